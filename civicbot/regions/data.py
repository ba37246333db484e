"""Japan's 47 prefectures and some major cities, written by hand (no external data at run time).

Codes:
  * prefecture: JIS X 0401, two digits as a string, "01" (北海道) to "47" (沖縄県).
  * city: the 5-digit local government code (全国地方公共団体コード) *without* its check digit,
    e.g. "28100" for 神戸市 (the form the config's `muni_code` also accepts).

Coordinates are approximate (WGS84, 4 decimals): for a prefecture, its government office
(都道府県庁) in the capital; for a city, its city hall. They place derivatives on a map and
nothing more. 13100 (東京都特別区部, the 23 wards) has no single hall; it uses the Tokyo
Metropolitan Government building, like the prefecture.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Prefecture:
    code: str        # JIS X 0401: "01".."47"
    name_ja: str     # full name with its suffix: 北海道, 東京都, 大阪府, 京都府, 青森県
    name_en: str     # Hepburn romaji without macrons and without the suffix: Hokkaido, Tokyo, Hyogo
    short_ja: str    # name_ja without 都/道/府/県 (北海道 stays 北海道)
    capital_ja: str  # seat of the prefectural government (東京都: 新宿区)
    capital_en: str
    lat: float       # the prefectural government office
    lon: float


@dataclass(frozen=True, slots=True)
class City:
    muni_code: str   # 5-digit local government code, no check digit: "28100"
    name_ja: str     # with 市: 神戸市
    name_en: str     # romaji without macrons and without "-shi": Kobe
    pref_code: str   # JIS X 0401 of its prefecture (the code's first two digits)
    lat: float       # city hall
    lon: float
    designated: bool = False  # 政令指定都市


def _p(code, name_ja, name_en, capital_ja, capital_en, lat, lon) -> Prefecture:
    short = name_ja if name_ja == "北海道" else name_ja[:-1]
    return Prefecture(code, name_ja, name_en, short, capital_ja, capital_en, lat, lon)


PREFECTURES: tuple[Prefecture, ...] = (
    _p("01", "北海道", "Hokkaido", "札幌市", "Sapporo", 43.0642, 141.3469),
    _p("02", "青森県", "Aomori", "青森市", "Aomori", 40.8244, 140.7400),
    _p("03", "岩手県", "Iwate", "盛岡市", "Morioka", 39.7036, 141.1527),
    _p("04", "宮城県", "Miyagi", "仙台市", "Sendai", 38.2689, 140.8721),
    _p("05", "秋田県", "Akita", "秋田市", "Akita", 39.7186, 140.1024),
    _p("06", "山形県", "Yamagata", "山形市", "Yamagata", 38.2404, 140.3633),
    _p("07", "福島県", "Fukushima", "福島市", "Fukushima", 37.7503, 140.4676),
    _p("08", "茨城県", "Ibaraki", "水戸市", "Mito", 36.3418, 140.4468),
    _p("09", "栃木県", "Tochigi", "宇都宮市", "Utsunomiya", 36.5657, 139.8836),
    _p("10", "群馬県", "Gunma", "前橋市", "Maebashi", 36.3911, 139.0608),
    _p("11", "埼玉県", "Saitama", "さいたま市", "Saitama", 35.8570, 139.6489),
    _p("12", "千葉県", "Chiba", "千葉市", "Chiba", 35.6051, 140.1233),
    _p("13", "東京都", "Tokyo", "新宿区", "Shinjuku", 35.6895, 139.6917),
    _p("14", "神奈川県", "Kanagawa", "横浜市", "Yokohama", 35.4478, 139.6425),
    _p("15", "新潟県", "Niigata", "新潟市", "Niigata", 37.9026, 139.0236),
    _p("16", "富山県", "Toyama", "富山市", "Toyama", 36.6953, 137.2113),
    _p("17", "石川県", "Ishikawa", "金沢市", "Kanazawa", 36.5947, 136.6256),
    _p("18", "福井県", "Fukui", "福井市", "Fukui", 36.0652, 136.2216),
    _p("19", "山梨県", "Yamanashi", "甲府市", "Kofu", 35.6642, 138.5684),
    _p("20", "長野県", "Nagano", "長野市", "Nagano", 36.6513, 138.1810),
    _p("21", "岐阜県", "Gifu", "岐阜市", "Gifu", 35.3912, 136.7223),
    _p("22", "静岡県", "Shizuoka", "静岡市", "Shizuoka", 34.9769, 138.3831),
    _p("23", "愛知県", "Aichi", "名古屋市", "Nagoya", 35.1802, 136.9066),
    _p("24", "三重県", "Mie", "津市", "Tsu", 34.7303, 136.5086),
    _p("25", "滋賀県", "Shiga", "大津市", "Otsu", 35.0045, 135.8686),
    _p("26", "京都府", "Kyoto", "京都市", "Kyoto", 35.0214, 135.7556),
    _p("27", "大阪府", "Osaka", "大阪市", "Osaka", 34.6863, 135.5200),
    _p("28", "兵庫県", "Hyogo", "神戸市", "Kobe", 34.6913, 135.1830),
    _p("29", "奈良県", "Nara", "奈良市", "Nara", 34.6853, 135.8327),
    _p("30", "和歌山県", "Wakayama", "和歌山市", "Wakayama", 34.2260, 135.1675),
    _p("31", "鳥取県", "Tottori", "鳥取市", "Tottori", 35.5036, 134.2383),
    _p("32", "島根県", "Shimane", "松江市", "Matsue", 35.4723, 133.0505),
    _p("33", "岡山県", "Okayama", "岡山市", "Okayama", 34.6618, 133.9344),
    _p("34", "広島県", "Hiroshima", "広島市", "Hiroshima", 34.3966, 132.4596),
    _p("35", "山口県", "Yamaguchi", "山口市", "Yamaguchi", 34.1859, 131.4714),
    _p("36", "徳島県", "Tokushima", "徳島市", "Tokushima", 34.0658, 134.5593),
    _p("37", "香川県", "Kagawa", "高松市", "Takamatsu", 34.3401, 134.0434),
    _p("38", "愛媛県", "Ehime", "松山市", "Matsuyama", 33.8417, 132.7661),
    _p("39", "高知県", "Kochi", "高知市", "Kochi", 33.5597, 133.5311),
    _p("40", "福岡県", "Fukuoka", "福岡市", "Fukuoka", 33.6064, 130.4181),
    _p("41", "佐賀県", "Saga", "佐賀市", "Saga", 33.2494, 130.2988),
    _p("42", "長崎県", "Nagasaki", "長崎市", "Nagasaki", 32.7503, 129.8677),
    _p("43", "熊本県", "Kumamoto", "熊本市", "Kumamoto", 32.7898, 130.7417),
    _p("44", "大分県", "Oita", "大分市", "Oita", 33.2382, 131.6126),
    _p("45", "宮崎県", "Miyazaki", "宮崎市", "Miyazaki", 31.9111, 131.4239),
    _p("46", "鹿児島県", "Kagoshima", "鹿児島市", "Kagoshima", 31.5602, 130.5581),
    _p("47", "沖縄県", "Okinawa", "那覇市", "Naha", 26.2124, 127.6809),
)


def _c(code, name_ja, name_en, lat, lon, designated=False) -> City:
    return City(code, name_ja, name_en, code[:2], lat, lon, designated)


CITIES: tuple[City, ...] = (
    # The 20 designated cities (政令指定都市), in code order.
    _c("01100", "札幌市", "Sapporo", 43.0621, 141.3544, True),
    _c("04100", "仙台市", "Sendai", 38.2682, 140.8694, True),
    _c("11100", "さいたま市", "Saitama", 35.8617, 139.6455, True),
    _c("12100", "千葉市", "Chiba", 35.6073, 140.1063, True),
    _c("14100", "横浜市", "Yokohama", 35.4437, 139.6380, True),
    _c("14130", "川崎市", "Kawasaki", 35.5308, 139.7029, True),
    _c("14150", "相模原市", "Sagamihara", 35.5714, 139.3733, True),
    _c("15100", "新潟市", "Niigata", 37.9161, 139.0364, True),
    _c("22100", "静岡市", "Shizuoka", 34.9756, 138.3828, True),
    _c("22130", "浜松市", "Hamamatsu", 34.7108, 137.7261, True),
    _c("23100", "名古屋市", "Nagoya", 35.1815, 136.9066, True),
    _c("26100", "京都市", "Kyoto", 35.0116, 135.7681, True),
    _c("27100", "大阪市", "Osaka", 34.6937, 135.5023, True),
    _c("27140", "堺市", "Sakai", 34.5733, 135.4830, True),
    _c("28100", "神戸市", "Kobe", 34.6901, 135.1955, True),
    _c("33100", "岡山市", "Okayama", 34.6551, 133.9195, True),
    _c("34100", "広島市", "Hiroshima", 34.3853, 132.4553, True),
    _c("40100", "北九州市", "Kitakyushu", 33.8834, 130.8752, True),
    _c("40130", "福岡市", "Fukuoka", 33.5902, 130.4017, True),
    _c("43100", "熊本市", "Kumamoto", 32.8032, 130.7079, True),
    # Tokyo's 23 special wards as one unit (特別区部); not a city, but the usual statistical unit.
    _c("13100", "東京都特別区部", "Tokyo 23 wards", 35.6895, 139.6917),
    # Other cities: prefectural capitals with a name unlike their prefecture's, and cities
    # that had (or were near) a COVID-19 derivative site.
    _c("01204", "旭川市", "Asahikawa", 43.7706, 142.3650),
    _c("03201", "盛岡市", "Morioka", 39.7020, 141.1545),
    _c("04203", "塩竈市", "Shiogama", 38.3144, 141.0220),
    _c("08201", "水戸市", "Mito", 36.3658, 140.4711),
    _c("09201", "宇都宮市", "Utsunomiya", 36.5551, 139.8828),
    _c("10201", "前橋市", "Maebashi", 36.3895, 139.0634),
    _c("11203", "川口市", "Kawaguchi", 35.8077, 139.7241),
    _c("11224", "戸田市", "Toda", 35.8176, 139.6779),
    _c("12204", "船橋市", "Funabashi", 35.6947, 139.9826),
    _c("12217", "柏市", "Kashiwa", 35.8676, 139.9758),
    _c("13201", "八王子市", "Hachioji", 35.6664, 139.3160),
    _c("13209", "町田市", "Machida", 35.5466, 139.4386),
    _c("14201", "横須賀市", "Yokosuka", 35.2813, 139.6722),
    _c("14204", "鎌倉市", "Kamakura", 35.3192, 139.5467),
    _c("17201", "金沢市", "Kanazawa", 36.5613, 136.6562),
    _c("19201", "甲府市", "Kofu", 35.6622, 138.5683),
    _c("25201", "大津市", "Otsu", 35.0179, 135.8546),
    _c("28201", "姫路市", "Himeji", 34.8151, 134.6853),
    _c("28204", "西宮市", "Nishinomiya", 34.7378, 135.3416),
    _c("32201", "松江市", "Matsue", 35.4681, 133.0484),
    _c("37201", "高松市", "Takamatsu", 34.3428, 134.0466),
    _c("38201", "松山市", "Matsuyama", 33.8392, 132.7657),
    _c("47201", "那覇市", "Naha", 26.2124, 127.6792),
)

_PREF_BY_CODE = {p.code: p for p in PREFECTURES}
_CITY_BY_CODE = {c.muni_code: c for c in CITIES}


def prefecture(code: str) -> Prefecture:
    """The prefecture with JIS X 0401 code `code` ("01".."47"); KeyError if there is none."""
    try:
        return _PREF_BY_CODE[code]
    except KeyError:
        raise KeyError(f"no prefecture with code {code!r} (expected '01'..'47' as a string)") from None


def city(muni_code: str) -> City:
    """The listed city with 5-digit code `muni_code`; KeyError if it is not listed."""
    try:
        return _CITY_BY_CODE[muni_code]
    except KeyError:
        raise KeyError(f"no listed city with code {muni_code!r}") from None


def cities_in(pref_code: str) -> tuple[City, ...]:
    """The listed cities of one prefecture, in code order."""
    return tuple(sorted((c for c in CITIES if c.pref_code == pref_code), key=lambda c: c.muni_code))
