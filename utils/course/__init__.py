"""Course tooling, not lesson code: the runner (`python -m utils run`), the exports folder and its
gallery, the Chinese edition's translation tool and the training-loop benchmark. No notebook
imports these; a learner need not read them."""
