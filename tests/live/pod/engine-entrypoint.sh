#!/bin/sh
# Start dockerd inside a privileged container, with the arguments the chart gives its dind
# sidecar. The cgroup v2 steps are those of docker:dind's `dind` script: the engine can only
# enable controllers for its containers once no process sits in the root cgroup.
set -eu
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  mkdir -p /sys/fs/cgroup/init
  xargs -rn1 </sys/fs/cgroup/cgroup.procs >/sys/fs/cgroup/init/cgroup.procs 2>/dev/null || :
  sed -e 's/ / +/g' -e 's/^/+/' </sys/fs/cgroup/cgroup.controllers \
      >/sys/fs/cgroup/cgroup.subtree_control
fi
mount --make-rshared / 2>/dev/null || :
rm -f /var/run/docker.pid
exec dockerd "$@"
