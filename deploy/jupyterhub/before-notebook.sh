#!/usr/bin/env bash
# Runs as the notebook user before JupyterLab starts (Jupyter Docker Stacks' start.sh hook).
# 1. Put the course into the home volume once (the engine in the sidecar mounts the same volume
#    at the same path, so the course's bind mounts resolve); later updates only add new files,
#    never overwrite a learner's edited notebook.
# 2. Wait briefly for the sidecar's engine, so the first cell finds it.
course_root="${COURSE_ROOT:-$HOME/docker-course}"
if [ -d /opt/docker-course ]; then
  mkdir -p "$course_root"
  cp -rn /opt/docker-course/. "$course_root/" 2>/dev/null || true
fi
socket="${DOCKER_HOST#unix://}"
if [ "${socket}" != "${DOCKER_HOST:-}" ]; then
  for _ in $(seq 1 60); do
    [ -S "$socket" ] && break
    sleep 1
  done
  [ -S "$socket" ] || echo "docker-course: no engine socket at $socket yet (is the dind sidecar running?)" >&2
fi
