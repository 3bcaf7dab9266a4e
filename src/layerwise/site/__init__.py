"""The book: every chapter's opening call (:mod:`.chapter`), the helpers the notebooks
share (:mod:`.display`), the build (:mod:`.book`: papermill, then jupyter-book) with its
reuse of unchanged chapters (:mod:`.reuse`) and report (:mod:`.build_report`), and the
``{eval}`` roles that put computed numbers into the prose.
"""
