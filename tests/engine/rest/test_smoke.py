"""The REST server answers the official SDK: topology through camunda-orchestration-sdk."""

from tests.engine.rest.conftest import Cluster


async def test_topology_through_the_sdk(cluster: Cluster) -> None:
    """GET /v2/topology parses in the SDK and reports a healthy leader partition."""
    topology = await cluster.sdk.get_topology()
    assert topology.cluster_size == 1
    assert topology.brokers[0].partitions[0].health.value == "healthy"
