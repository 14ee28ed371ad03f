"""Object stores (chart images, the market-data cache): a local folder by default."""

from ibtrader.adapters.objects.folder import FolderObjectStore, InvalidKey

__all__ = ["FolderObjectStore", "InvalidKey"]
