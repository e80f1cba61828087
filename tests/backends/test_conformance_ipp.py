"""ipyparallel passes the backend conformance suite, on the shared real 2-engine cluster."""

from __future__ import annotations

import pytest
from conformance import BackendConformance

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]


class TestIPyParallel(BackendConformance):
    @pytest.fixture
    def backend(self, ipp_cluster):
        yield ipp_cluster
