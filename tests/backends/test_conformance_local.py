"""Every local backend passes the backend conformance suite (``conformance.py``)."""

from __future__ import annotations

import concurrent.futures as cf

import pytest
from conformance import BackendConformance

from pylearn_lab.backends import ProcessBackend, ThreadBackend


class TestSerial(BackendConformance):
    @pytest.fixture
    def backend(self):
        yield "serial"


class TestThreads(BackendConformance):
    @pytest.fixture
    def backend(self):
        b = ThreadBackend(max_workers=2)
        yield b
        b.close()


class TestProcesses(BackendConformance):
    @pytest.fixture
    def backend(self):
        b = ProcessBackend(max_workers=2)
        yield b
        b.close()


class TestAnyExecutor(BackendConformance):
    """A plain ``concurrent.futures`` executor is a backend as it is."""

    @pytest.fixture
    def backend(self):
        ex = cf.ThreadPoolExecutor(max_workers=2)
        yield ex
        ex.shutdown(wait=True)


class TestAnyProcessExecutor(BackendConformance):
    """A plain process pool: values travel pickled, the client stores them."""

    @pytest.fixture
    def backend(self):
        ex = cf.ProcessPoolExecutor(max_workers=2)
        yield ex
        ex.shutdown(wait=True)
