"""The object store's provider: what each site can offer."""

from __future__ import annotations

import pytest

from model.fields import ConfigError
from tests.helpers import read_platform_config, refused, site


def test_defaults_follow_the_site():
    assert read_platform_config({})["object-store"].provider == "ceph-rgw"
    assert read_platform_config({}, at=site("aws"))["object-store"].provider == "s3"


@pytest.mark.parametrize(
    ("config", "at", "words"),
    [
        ({"storage": {"provider": "none"}, "objectStore": {"provider": "ceph-rgw"},
          "monitoring": {"storageClass": "x"}}, site(), "needs storage.provider rook-ceph"),
        ({"objectStore": {"provider": "s3"}}, site(), "the s3 store is an AWS bucket"),
    ],
)  # fmt: skip
def test_a_provider_the_site_cannot_offer_is_refused(config, at, words):
    with pytest.raises(ConfigError) as error:
        read_platform_config(config, at=at)
    assert words in refused(error.value, "ml-platform:platform.objectStore.provider")
