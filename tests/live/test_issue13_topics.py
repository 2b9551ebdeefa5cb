"""Issue 13's new topics on the real engine: stop timing by PID 1, restart policies, system df,
published ports, internal networks, host.docker.internal, volume ownership, anonymous volumes."""

from __future__ import annotations

from helpers import course
from helpers.engine import objects
from helpers.lessons import isolation, lifecycle, networking, volumes


def test_stop_takes_the_timeout_only_in_shell_form(scope) -> None:
    shell = course.build_image.__wrapped__(f"docker-course/signals-{scope}:shell", app="signals",
                                           dockerfile="Dockerfile.shell-form")
    exec_ = course.build_image.__wrapped__(f"docker-course/signals-{scope}:exec", app="signals",
                                           dockerfile="Dockerfile.exec-form")
    stops = isolation.stop_timings.__wrapped__(shell.tag, exec_.tag, timeout=3,
                                               prefix=f"{scope}-stop")
    assert stops.loc["shell form", "stop seconds"] >= 2.5
    assert stops.loc["shell form", "exit code"] == 137
    assert stops.loc["shell form", "PID 1 inside"].startswith("/bin/sh -c")
    assert stops.loc["exec form", "stop seconds"] < 2
    assert stops.loc["exec form", "exit code"] == 0
    assert stops.loc["shell form + --init", "stop seconds"] < 2
    assert "init" in stops.loc["shell form + --init", "PID 1 inside"]


def test_restart_policies_side_by_side(scope, shell_image) -> None:
    policies = lifecycle.restart_policies.__wrapped__(shell_image, prefix=f"{scope}-restart")
    assert policies.loc["no", "restarts"] == 0
    assert policies.loc["on-failure:3", "restarts"] == 3
    assert policies.loc["on-failure:3", "state now"] == "exited"
    assert policies.loc["on-failure", "restarts"] == 0
    assert policies.loc["always", "restarts"] >= 1
    stopped = lifecycle.stop_restarting.__wrapped__(
        list(policies.loc[["always", "unless-stopped"], "container"]))
    assert (stopped["state after stop"] == "exited").all()


def test_disk_usage_counts_the_course_container(scope, shell_image) -> None:
    course.run_container.__wrapped__(shell_image, name=f"{scope}-df", command=["sleep", "60"])
    usage = lifecycle.disk_usage.__wrapped__()
    assert list(usage.index) == ["images", "containers", "local volumes", "build cache"]
    assert usage.loc["containers", "made by the course"] >= 1
    assert usage.loc["images", "size_bytes"] > 0


def test_publish_forms_bind_loopback(scope, shell_image) -> None:
    published = networking.publish_forms.__wrapped__(shell_image, f"{scope}-ports")
    assert len(published) == 2
    assert (published["host address"] == "127.0.0.1").all()
    assert published["answer"].str.startswith("hello from").all()


def test_internal_network_has_no_default_route(scope, shell_image) -> None:
    objects.create_network(f"{scope}-net")
    objects.create_network(f"{scope}-int", internal=True)
    routes = networking.routes_compared.__wrapped__(shell_image, [f"{scope}-net", f"{scope}-int"],
                                                    prefix=f"{scope}-route")
    assert routes.loc[f"{scope}-net", "default route"].startswith("default via")
    assert routes.loc[f"{scope}-int", "default route"] == "none"


def test_host_gateway_is_the_bridge_gateway(scope, shell_image) -> None:
    gateway = networking.host_gateway.__wrapped__(shell_image, f"{scope}-hostgw")
    assert gateway.address and gateway.address == gateway.bridge_gateway


def test_fresh_volume_refuses_a_non_root_app_until_chowned(scope, shell_image) -> None:
    steps = volumes.ownership_demo.__wrapped__(shell_image, f"{scope}-owned", uid=10001)
    assert steps["exit code"].iloc[0] != 0
    assert "Permission denied" in steps["output"].iloc[0]
    assert steps["exit code"].iloc[-1] == 0


def test_anonymous_volume_goes_with_rm_v(scope, shell_image) -> None:
    found = volumes.anonymous_volume.__wrapped__(shell_image, f"{scope}-anon")
    assert found.named_by_docker
    assert not found.left_after_rm_v
