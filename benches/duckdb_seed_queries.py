#!/usr/bin/env python3
"""DuckDB baseline for dragnet's two shipped seed rules, over the same CloudTrail JSON lines.

One scan answers both queries, as `dragnet hunt` evaluates both rules in one pass. The SQL
restates the KQL of rules/initial_access_via_system_manager.toml and
rules/exfiltration_ec2_ami_shared_with_separate_account.toml over raw CloudTrail fields:
  event.provider            -> eventSource
  event.action              -> eventName
  event.outcome: success    -> no errorCode and no errorMessage (the AWS integration's
                               categorization script sets failure when either is present)
  aws.cloudtrail.request_parameters: (*imageId* and *add* and *userId*)
                            -> the requestParameters text contains all three (case-sensitive,
                               as a keyword wildcard is)
Usage: duckdb_seed_queries.py FILE [--threads N]
Prints one JSON line: {"ssm_send_command": N, "ami_shared": N}.
"""
import argparse
import json
import sys

try:
    import duckdb
except ImportError:
    sys.exit("duckdb is not installed: pip install duckdb")

SUCCESS = "coalesce(errorCode, '') = '' AND coalesce(errorMessage, '') = ''"

QUERY = f"""
SELECT
  count(*) FILTER (WHERE eventSource = 'ssm.amazonaws.com'
                     AND eventName = 'SendCommand'
                     AND {SUCCESS}) AS ssm_send_command,
  count(*) FILTER (WHERE eventSource = 'ec2.amazonaws.com'
                     AND eventName = 'ModifyImageAttribute'
                     AND {SUCCESS}
                     AND CAST(requestParameters AS VARCHAR) LIKE '%imageId%'
                     AND CAST(requestParameters AS VARCHAR) LIKE '%add%'
                     AND CAST(requestParameters AS VARCHAR) LIKE '%userId%') AS ami_shared
FROM read_json(?, format = 'newline_delimited',
               columns = {{eventSource: 'VARCHAR', eventName: 'VARCHAR',
                          errorCode: 'VARCHAR', errorMessage: 'VARCHAR',
                          requestParameters: 'JSON'}},
               maximum_object_size = 16777216)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    con = duckdb.connect()
    con.execute(f"SET threads = {int(args.threads)}")
    ssm, ami = con.execute(QUERY, [args.file]).fetchone()
    print(json.dumps({"ssm_send_command": ssm, "ami_shared": ami}))


if __name__ == "__main__":
    main()
