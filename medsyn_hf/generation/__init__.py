"""Generation: priors -> prompts -> notes with a transformers model or an OpenAI-compatible server, in resumable,
data-parallel parquet shards (`run`), scored by the filters (`notes`) and published as a Hub dataset (`publish`)."""
