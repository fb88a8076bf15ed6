"""Service tests pin the stages they exercise: the service is under test here, not the stages."""

from tests.conftest import fast_settings

settings = fast_settings()
