"""Telemetry: GPUs through NVML (the only pynvml import) and the host through psutil."""
