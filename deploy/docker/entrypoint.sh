#!/bin/sh
# Entrypoint of the retail-hub image: read secrets from files, then run the
# command. For every variable RETAIL_HUB_<NAME>_FILE that names a readable
# file, RETAIL_HUB_<NAME> is set to the file's content without its trailing
# newline, so Docker and Kubernetes secrets mounted as files work without
# putting the secret into the container's environment definition.
set -eu

for variable in $(env | sed -n 's/^\(RETAIL_HUB_[A-Z0-9_]*\)_FILE=.*/\1/p'); do
    eval "path=\${${variable}_FILE}"
    if [ ! -r "$path" ]; then
        echo "retail-hub-entrypoint: invalid ${variable}_FILE: $path is missing or unreadable; mount the file there or unset the variable" >&2
        exit 2
    fi
    value=$(cat "$path")
    export "$variable=$value"
    unset "${variable}_FILE"
done

exec "$@"
