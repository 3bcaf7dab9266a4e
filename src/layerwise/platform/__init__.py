"""The platform: what serves uses beyond reading the paper, fenced off from the core.

The core (``data``, ``stats``, ``models``, ``extract``, ``store``, ``measure``, ``report``,
``pipeline``, ``site``) is what a reader of the paper needs and never imports this
subpackage (``tests/unit/test_architecture.py`` enforces it); only the command line
(:mod:`layerwise.cli`) reaches in here, on demand. Each module builds on the core's
public functions:

- :mod:`.conformance`: tiny random models of many Hugging Face architecture families,
  checked against plain transformers by the conformance suite;
- :mod:`.models_page`: the book's *Which models work* page, written from that table
  (``python -m layerwise models-page``);
- :mod:`.rehearsal`: random-weight stand-ins of the paper's models in a local Hugging
  Face cache, to rehearse the ``paper`` profile offline (``python -m layerwise rehearse``);
- :mod:`.sweep`: ``compare --workers N`` / ``--scheduler ADDRESS``, a sweep's models fanned
  out over a Dask cluster (the ``cluster`` extra: ``pip install 'layerwise[cluster]'``).
"""
