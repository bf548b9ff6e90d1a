"""Renders maps with the reference model of Elastic's request_parameters strings.

Usage: python3 java_map_driver.py MODEL.py CASES.jsonl OUT.jsonl
MODEL.py is shared/notes/java_map_tostring.py (imported by path); each line of CASES.jsonl is
one JSON value; each line of OUT.jsonl is the JSON-encoded string the model renders for it
after the pipeline's clean-up, or null when the clean-up drops the whole value.
"""
import importlib.util
import json
import sys

spec = importlib.util.spec_from_file_location("java_map_tostring", sys.argv[1])
model = importlib.util.module_from_spec(spec)
spec.loader.exec_module(model)

with open(sys.argv[2], encoding="utf-8") as cases, open(sys.argv[3], "w", encoding="utf-8") as out:
    for line in cases:
        value = model.build(json.loads(line))
        dropped = model.drop_empty(value)
        out.write(json.dumps(None if dropped else model.render(value)) + "\n")
