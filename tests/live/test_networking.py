"""Notebook 07 on the real engine: DNS, isolation, the two-tier app, and its failures."""

from __future__ import annotations

import docker
import pytest

from helpers import course, journal, labels
from helpers.engine import networking as net
from helpers.engine import objects
from helpers.engine.cleanup import cleanup
from helpers.errors import CourseError, NotReady
from helpers.lessons import networking, two_tier
from helpers.session import secrets as kept_secrets


def _left(scope: str) -> dict[str, list[str]]:
    engine = docker.from_env()
    wanted = labels.filters(scope)
    return {"containers": [c.name for c in engine.containers.list(all=True, filters=wanted)],
            "volumes": [v.name for v in engine.volumes.list(filters=wanted)],
            "networks": [n.name for n in engine.networks.list(filters=wanted)]}


def _nothing_left(scope: str) -> bool:
    return not any(_left(scope).values())


@pytest.fixture
def app_image(scope, python_image) -> str:
    tag = f"docker-course/{scope}-app:1"
    course.build_image(tag)
    return tag


def test_dns_works_on_a_user_bridge_and_not_on_the_default_bridge(scope, shell_image) -> None:
    lab = networking.start_lab(shell_image, prefix=scope)
    assert len(lab) == 5
    resolution = networking.name_resolution(prefix=scope)
    user = resolution.loc[f"{scope}-net-a"]
    default = resolution.loc["bridge (default)"]
    assert user["by name"] == "reachable" and user["by IP"] == "reachable"
    assert user["answer by name"] == f"hello from {scope}-a2"  # the right container answered
    assert user["DNS server"] == "127.0.0.11"  # Docker's embedded DNS
    assert default["by name"] == "name not resolved"
    assert default["by IP"] == "reachable"
    assert "127.0.0.11" not in default["DNS server"]


def test_networks_are_isolated_until_connected(scope, shell_image) -> None:
    networking.start_lab(shell_image, prefix=scope)
    matrix = networking.connectivity_matrix(prefix=scope)
    assert len(matrix) == 5 * 4 * 2
    by_ip = networking.matrix_table(matrix, by="IP")
    a1, a2, b1, d1, d2 = (f"{scope}-{n}" for n in ("a1", "a2", "b1", "d1", "d2"))
    assert by_ip.loc[a1, a2] == "reachable" and by_ip.loc[d1, d2] == "reachable"
    for source, target in ((a1, b1), (b1, a1), (a1, d1), (d1, a1), (b1, d2)):
        assert by_ip.loc[source, target] == "no answer", (source, target)
    by_name = networking.matrix_table(matrix, by="name")
    assert by_name.loc[a1, a2] == "reachable"
    assert by_name.loc[a1, b1] == "name not resolved"
    assert by_name.loc[d1, d2] == "name not resolved"
    figure = networking.matrix_chart(matrix)
    assert len([a for a in figure.axes if a.get_title()]) == 2

    attached = networking.connect(b1, f"{scope}-net-a", aliases=["gateway"])
    assert set(attached["network"]) == {f"{scope}-net-a", f"{scope}-net-b"}
    assert networking.probe(b1, a1).reachable
    assert networking.probe(a1, "gateway").reachable  # the alias resolves on net A
    networking.disconnect(b1, f"{scope}-net-a")
    assert networking.probe(b1, a1).outcome == "name not resolved"
    assert networking.probe(b1, a1, by="IP").outcome == "no answer"


def test_two_tier_app_round_trip_isolation_and_no_public_port(scope, shell_image,
                                                              app_image) -> None:
    app = two_tier.start_two_tier(scope, app_image=app_image, port=None)
    parts = app.names
    # the app started first, waited for its database, and never crashed
    assert app.race.app_restarts == 0 and app.race.app_status == "running"
    assert app.race.waiting_lines >= 1
    assert app.database.seconds_until_ready > 0
    assert any("01-schema.sql" in line for line in app.database.init_log)

    stored = two_tier.post_message(app.app, "Hello from the live test")
    rows = two_tier.messages_in_database(parts.database)
    assert stored["id"] in rows.index
    assert rows.loc[stored["id"], "text"] == "Hello from the live test"
    assert two_tier.app_messages(app.app).loc[stored["id"], "text"] == "Hello from the live test"

    # published on loopback only; the database not at all
    app_bindings = net.published_bindings(parts.app)
    assert app_bindings and {b.host_ip for b in app_bindings} == {"127.0.0.1"}
    assert net.published_bindings(parts.database) == []
    shown = two_tier.topology([parts.app, parts.database])
    assert shown.loc[parts.database, "published on host"] == "nothing"

    # a container on another network reaches neither tier; one on the app's network does
    objects.create_network(f"{scope}-other")
    reach = networking.reachability(shell_image, [f"{scope}-other", "bridge", parts.network],
                                    [(parts.app, 5000), (parts.database, 3306)], prefix=scope)
    inside = reach[reach["source network"] == parts.network]
    outside = reach[reach["source network"] != parts.network]
    assert set(inside["outcome"]) == {"reachable"}
    assert len(outside) == 8 and not (outside["outcome"] == "reachable").any()

    # no password in any CLI line
    secrets = list(kept_secrets.passwords(parts.database).values())
    assert len(secrets) == 2  # root and user, kept by this kernel
    lines = [c.cli for c in journal.read()]
    assert any("MYSQL_PASSWORD=***" in line for line in lines)
    assert not any(secret in line for secret in secrets for line in lines)

    removed = two_tier.teardown(scope)
    assert set(removed["name"]) == {parts.app, parts.database, parts.network, parts.volume}
    cleanup(scope)
    assert _nothing_left(scope)


def test_a_database_that_never_becomes_ready_is_clear_and_leaves_nothing(
        scope, app_image) -> None:
    with pytest.raises(NotReady) as failure:
        two_tier.start_two_tier(scope, app_image=app_image, port=None,
                                init_dir=two_tier.BROKEN_INIT_DIR, timeout=90)
    assert "stopped during start-up" in failure.value.message
    assert "ERROR 1064" in failure.value.log_tail  # the database's own log says why
    assert _nothing_left(scope), _left(scope)


def test_a_database_that_never_answers_times_out_and_leaves_nothing(scope, shell_image) -> None:
    objects.create_network(f"{scope}-net")
    with pytest.raises(NotReady, match="within 3 s"):
        two_tier.start_database(f"{scope}-db", network=f"{scope}-net", volume=f"{scope}-data",
                                image=shell_image, command=["sleep", "60"], init_dir=None,
                                timeout=3)
    left = _left(scope)
    assert left["containers"] == [] and left["volumes"] == []


def _unlabelled_copy(engine, image: str, tag: str) -> str:
    """The image's files as a new image without its labels (``docker export | docker import``).

    The course's stand-ins carry the course labels, and containers inherit image labels; a
    learner's own image does not, so the hand-made container is made from such a copy.
    """
    source = engine.containers.create(image, ["true"])
    try:
        data = b"".join(source.export())
    finally:
        source.remove(force=True)
    engine.api.import_image_from_data(data, repository=tag.split(":")[0], tag=tag.split(":")[1])
    return tag


def test_cleanup_and_teardown_spare_hand_made_objects(scope, shell_image) -> None:
    engine = docker.from_env()
    parts = two_tier.names(scope)
    own_image = _unlabelled_copy(engine, shell_image, f"{scope}-handmade:1")
    mine = engine.containers.run(own_image, ["sleep", "60"], name=parts.app, detach=True)
    volume = engine.volumes.create(f"{scope}-handmade")
    network = engine.networks.create(f"{scope}-handmade")
    try:
        networking.start_lab(shell_image, prefix=scope)
        with pytest.raises(CourseError, match="did not create"):
            two_tier.teardown(scope)
        cleanup(scope)
        assert _nothing_left(scope)
        mine.reload()
        volume.reload()
        network.reload()
        assert mine.status == "running"
    finally:
        mine.remove(force=True)
        volume.remove(force=True)
        network.remove()
        engine.images.remove(own_image, force=True)
