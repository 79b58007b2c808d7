"""Validates the outputs scripts/guided-corpus.ts dumps (--dump FILE) with Python's jsonschema, independently of ajv.

Finished outputs ("stop") must parse and validate, formats included (jsonschema's own checkers, plus date-time, time,
uri, hostname and duration written here, since their optional packages may be absent); cut ones are only counted.
Usage: /work/venv-hf/bin/python scripts/guided-corpus-validate.py FILE
"""

import datetime
import json
import re
import sys

import jsonschema

checker = jsonschema.Draft202012Validator.FORMAT_CHECKER


@checker.checks("date-time", raises=ValueError)
def date_time(value):
    return not isinstance(value, str) or bool(datetime.datetime.fromisoformat(value.replace("Z", "+00:00")))


@checker.checks("time", raises=ValueError)
def time(value):
    return not isinstance(value, str) or bool(datetime.time.fromisoformat(value.replace("Z", "+00:00")))


@checker.checks("uri")
def uri(value):
    # RFC 3986: a scheme, then anything without spaces (rfc3987's full grammar is not installed).
    return not isinstance(value, str) or re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s]*", value) is not None


@checker.checks("hostname")
def hostname(value):
    labels = value.split(".") if isinstance(value, str) else []
    return not isinstance(value, str) or (len(value) <= 253 and all(re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?", label) for label in labels))


@checker.checks("duration")
def duration(value):
    return not isinstance(value, str) or re.fullmatch(r"P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?", value) is not None


def draft4_bounds(schema):
    """Draft 4's boolean exclusiveMinimum/Maximum as the numbers draft 2020-12 writes."""
    if isinstance(schema, list):
        return [draft4_bounds(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: draft4_bounds(value) for key, value in schema.items()}
    for flag, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(flag), bool):
            if out[flag] and bound in out:
                out[flag] = out.pop(bound)
            else:
                del out[flag]
    return out


def main(path):
    counts = {"stop": 0, "length": 0, "invalid": 0}
    for line in open(path, encoding="utf-8"):
        record = json.loads(line)
        if record["finish"] != "stop":
            counts["length"] += 1
            continue
        counts["stop"] += 1
        try:
            value = json.loads(record["text"])
            jsonschema.validate(value, draft4_bounds(record["schema"]), cls=jsonschema.Draft202012Validator, format_checker=checker)
        except (ValueError, jsonschema.ValidationError) as error:
            counts["invalid"] += 1
            print(f"INVALID {record['name']}: {record['text']!r}: {str(error).splitlines()[0]}")
    print(f"{counts['stop']} finished outputs validated by jsonschema, {counts['invalid']} invalid; {counts['length']} cut (not checked)")
    return 1 if counts["invalid"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
