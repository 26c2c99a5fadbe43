"""Model servers: supervisor, vLLM command lines, processes, ports, health, logs, remote nodes."""
