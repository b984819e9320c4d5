import pytest

from ser_ref.evaluation.executors import SerialExecutor, make_executor


def _square(x):
    return x * x


def _boom(x):
    raise ValueError(f"bad {x}")


def test_serial_executor_runs_in_order_and_delivers_errors():
    ex = make_executor(jobs=1)
    assert isinstance(ex, SerialExecutor)
    assert [ex.submit(_square, i).result() for i in range(4)] == [0, 1, 4, 9]
    with pytest.raises(ValueError, match="bad 3"):
        ex.submit(_boom, 3).result()


def test_process_pool_gives_the_same_results():
    with make_executor(jobs=2) as ex:
        assert [f.result() for f in [ex.submit(_square, i) for i in range(6)]] == [i * i for i in range(6)]


def test_dask_local_cluster_executor():
    distributed = pytest.importorskip("distributed", reason="Dask's distributed is not installed ('ser_ref[distributed]')")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        with make_executor(scheduler=cluster.scheduler_address) as ex:
            assert [ex.submit(_square, i).result() for i in range(3)] == [0, 1, 4]
