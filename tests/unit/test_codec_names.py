"""Every result class of the course has a stable name of its own in recordings, so decoding a
recording never depends on the module a class lived in when it was recorded."""

from __future__ import annotations

import dataclasses

from helpers.session import codec


def _recordable_classes() -> list[type]:
    codec._import_everything()
    codec._refresh_index()
    return sorted({cls for classes in codec._index.values() for cls in classes},
                  key=lambda c: f"{c.__module__}.{c.__qualname__}")


def test_no_two_result_classes_share_a_recorded_name() -> None:
    seen: dict[str, list[str]] = {}
    for cls in _recordable_classes():
        seen.setdefault(codec.type_name(cls), []).append(f"{cls.__module__}.{cls.__qualname__}")
    shared = {name: where for name, where in seen.items() if len(where) > 1}
    assert not shared, f"give each a RECORDED_AS name of its own: {shared}"


def test_a_moved_class_is_found_by_its_old_name_and_module() -> None:
    from helpers.engine import networking, registry_auth

    # recorded as "Endpoint" from helpers.engine.registry, before registry_auth existed
    assert codec.find_type("Endpoint", "helpers.engine.registry") is registry_auth.Endpoint
    assert codec.find_type("Endpoint", "helpers.engine.networking") is networking.Endpoint
    assert codec.find_type("RegistryEndpoint") is registry_auth.Endpoint


def test_a_declared_name_round_trips() -> None:
    from helpers.engine.registry_auth import Endpoint

    value = Endpoint(kind="local", address="127.0.0.1:5001", api_url="http://127.0.0.1:5001",
                     namespace="course", username="student")
    encoded = codec.encode(value)
    assert encoded["type"] == "RegistryEndpoint"
    assert codec.decode(encoded) == value
    assert "RECORDED_AS" not in {f.name for f in dataclasses.fields(value)}
