"""`python -m civicbot.config > config/schema.json`: the JSON Schema of a config file."""

import json
import sys

from .loading import config_json_schema

json.dump(config_json_schema(), sys.stdout, indent=2, ensure_ascii=False)
sys.stdout.write("\n")
