"""The region layer: Japan's prefectures and major cities (hand-written data) and a matcher that
places a repository in a prefecture (and city) from its owner, name, description and homepage.

See docs/regions.md.
"""

from .data import CITIES, PREFECTURES, City, Prefecture, cities_in, city, prefecture
from .matcher import RegionMatch, match_region

__all__ = ["CITIES", "PREFECTURES", "City", "Prefecture", "RegionMatch", "cities_in", "city",
           "match_region", "prefecture"]
