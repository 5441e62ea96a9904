from __future__ import annotations

import pytest

from ganbench.registry import Registry, RegistryError


def test_register_get_and_list_by_glob():
    reg: Registry[int] = Registry("thing")

    @reg.register()
    def alpha():
        return 1

    reg.add("beta", 2)
    reg.add("alpine", 3)
    assert reg.get("alpha") is alpha
    assert reg.get("beta") == 2
    assert reg.names() == ["alpha", "alpine", "beta"]
    assert reg.names("al*") == ["alpha", "alpine"]
    assert "beta" in reg and "gamma" not in reg
    assert len(reg) == 3


def test_duplicate_name_fails():
    reg: Registry[int] = Registry("thing")
    reg.add("a", 1)
    with pytest.raises(RegistryError, match="thing 'a' is already registered"):
        reg.add("a", 2)


def test_unknown_name_lists_valid_names():
    reg: Registry[int] = Registry("loss")
    reg.add("b", 1)
    reg.add("a", 2)
    with pytest.raises(RegistryError) as err:
        reg.get("c")
    assert str(err.value) == "unknown loss 'c'; valid: a, b"
