"""StoreProxy: the embedded store as the processes of a Ray cluster reach it, through its one
owner actor, on a real local Ray."""

import numpy as np
import pytest

from vidsearch.config import Settings
from vidsearch.store import StoreError, ids
from vidsearch.store.records import VideoRecord


@pytest.fixture(scope="module")
def ray_cluster():
    import ray

    if ray.is_initialized():  # the integration tests' cluster, in a whole run: a process of it
        yield ray
        return
    ray.init(address="local", namespace="vidsearch", num_cpus=1, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_calls_answers_and_errors_cross_the_owner(ray_cluster, tmp_path):
    from batch_jobs.cluster import NAMESPACE, cluster_store, owner_name

    settings = Settings(data_dir=tmp_path, semantic={"dim": 8})
    store = cluster_store(settings)
    again = cluster_store(settings)  # a second process of the cluster: the same owner
    record = VideoRecord(video_id=ids.video_id("a"), path="/v/a.mp4", checksum="a", size_bytes=1, status="indexing")
    store.put_video(record)
    assert again.get_video(record.video_id).path == "/v/a.mp4"
    store.upsert_frames(record.frame_payload(), np.arange(3), np.arange(3, dtype=np.float32),
                        np.eye(3, 63, dtype=np.float32), None)
    assert again.count_frames(record.video_id) == 3

    with pytest.raises(AttributeError):  # only the store's public methods go to the owner
        store._upsert
    with pytest.raises(StoreError, match="holds 8-d semantic vectors"):  # the store's own error, as raised
        store.check_semantic_size(16, "some-model")

    ray_cluster.kill(ray_cluster.get_actor(owner_name(settings), namespace=NAMESPACE), no_restart=True)
    with pytest.raises(StoreError, match="owner is not running"):
        store.count_frames()
