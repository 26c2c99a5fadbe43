"""The load test: workloads, arrivals, the client that sends them and the metrics it reports."""
