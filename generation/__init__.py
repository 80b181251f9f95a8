"""ENGINE: GPU work — jobs, presets, diffusers pipelines, tasks, workers, usage, provenance.
Imports nothing from tester_platform or payments."""
