"""The region layer: Japan's prefectures and major cities (hand-written data) and a matcher that
places a repository in a prefecture (and city) from its owner, name, description and homepage;
`place_of` reads a person's profile location (country, and for Japan the prefecture).

See docs/regions.md.
"""

from .data import CITIES, PREFECTURES, City, Prefecture, cities_in, city, prefecture
from .matcher import RegionMatch, match_region
from .places import Place, country_name, place_of

__all__ = ["CITIES", "PREFECTURES", "City", "Place", "Prefecture", "RegionMatch", "cities_in", "city",
           "country_name", "match_region", "place_of", "prefecture"]
