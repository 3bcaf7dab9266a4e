"""The store: one on-disk cache for arrays, tables and JSON values (:mod:`.cache`), its
keys (:mod:`.keys`), the one get-or-compute wrapper (:mod:`.cached`) and the bootstrap
memo handed down to the scores (:mod:`.memo`). Chapter 2 explains the cache.
"""

from .cache import Cache, default_cache_dir
from .cached import cached_extract, cached_value
from .memo import BootstrapMemo

__all__ = ["BootstrapMemo", "Cache", "cached_extract", "cached_value", "default_cache_dir"]
