#!/usr/bin/env python3
"""Read one samconfig.toml environment for the deploy pipelines.

Usage: python3 scripts/samconfig-env.py ENV [SAMCONFIG]

Prints SAM_STACK=, SAM_REGION= and SAM_TEMPLATE= lines (for $GITHUB_ENV,
or `set -a; . file`), and writes the environment's parameter_overrides, one
Name=Value a line, to .aws-sam/parameter-overrides.txt. The pipelines pass
that list again on the sam deploy command line with CommitSha=<commit>,
because a command-line --parameter-overrides replaces samconfig's instead
of merging with it. Used by .github/workflows/deploy.yml and buildspec.yml;
tested by internal/samtemplate. Python 3.11+ (tomllib).
"""

import os
import sys
import tomllib


def section(env, command):
    """Returns an environment's parameters for one command ({} if none)."""
    return env.get(command, {}).get("parameters", {})


def main(argv):
    if len(argv) not in (2, 3):
        sys.exit(__doc__.strip().splitlines()[2])
    name = argv[1]
    path = argv[2] if len(argv) == 3 else "samconfig.toml"
    with open(path, "rb") as f:
        cfg = tomllib.load(f)
    if name not in cfg or not isinstance(cfg[name], dict):
        sys.exit(f"samconfig-env: no environment {name!r} in {path}")
    env = cfg[name]
    glob, build, deploy = section(env, "global"), section(env, "build"), section(env, "deploy")

    def get(key, default=None):
        for params in (deploy, build, glob):
            if key in params:
                return params[key]
        if default is None:
            sys.exit(f"samconfig-env: {name} has no {key}")
        return default

    overrides = deploy.get("parameter_overrides", glob.get("parameter_overrides", []))
    if isinstance(overrides, str):
        overrides = overrides.split()
    for o in overrides:
        if o.startswith("CommitSha="):
            sys.exit("samconfig-env: CommitSha is the pipeline's to pass, not samconfig's")
    os.makedirs(".aws-sam", exist_ok=True)
    with open(os.path.join(".aws-sam", "parameter-overrides.txt"), "w") as f:
        f.writelines(o + "\n" for o in overrides)
    print("SAM_STACK=" + get("stack_name"))
    print("SAM_REGION=" + get("region"))
    print("SAM_TEMPLATE=" + build.get("template_file", glob.get("template_file", "template.yaml")))


if __name__ == "__main__":
    main(sys.argv)
