"""`medsyn sft --push_to_hub`: the model push goes through the one push helper (medsyn_hf.hub), so a Hub failure is one
line and exit 2, before any training, not a traceback."""

import http.server
import os
import subprocess
import sys
import threading

import yaml
from conftest import REPO
from test_card import _Unauthorised

from medsyn_hf.cli import main as medsyn

TINY_RECIPE = REPO / "recipes" / "tiny" / "sft" / "config.yaml"


def test_sft_push_offline_is_one_line_before_training(tmp_path, tiny_model_dir, ift_dir, capsys):
    config = yaml.safe_load(TINY_RECIPE.read_text(encoding="utf-8"))
    config.update(
        model_name_or_path=str(tiny_model_dir),
        dataset_name=str(ift_dir),
        output_dir=str(tmp_path / "out"),
        push_to_hub=True,
        hub_model_id="someone/medsyn-test",
    )
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    assert medsyn(["sft", "--config", str(tmp_path / "c.yaml")]) == 2
    err = capsys.readouterr().err
    assert err == (
        "medsyn: error: cannot create the Hub model repo 'someone/medsyn-test': HF_HUB_OFFLINE is set; "
        "unset it to push\n"
    ), err
    assert not (tmp_path / "out").exists()


def test_model_push_denied_is_one_line(tmp_path):
    """A 401 from the Hub on a model push, as `medsyn sft` makes it (`push_model`: the same helper with
    repo_type="model"); a fake endpoint: huggingface_hub reads HF_ENDPOINT at import, hence the subprocess."""
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "adapter_config.json").write_text("{}", encoding="utf-8")
    code = (
        "import sys\nfrom medsyn_hf.errors import MedsynError\nfrom medsyn_hf.hub import push_folder\n"
        f"try:\n    push_folder({str(tmp_path / 'model')!r}, 'someone/m', 'hf_x', repo_type='model')\n"
        "except MedsynError as err:\n    print(err)\n    sys.exit(2)\n"
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Unauthorised)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "0",
        "HF_ENDPOINT": f"http://127.0.0.1:{server.server_address[1]}",
        "PYTHONPATH": str(REPO),
    }
    try:
        denied = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    finally:
        server.shutdown()
        server.server_close()
    assert denied.returncode == 2, denied.stderr
    assert denied.stdout == (
        f"cannot push {tmp_path / 'model'} to the Hub model 'someone/m': not authorised "
        "(HTTP 401); log in with `hf auth login` or pass a token with write access\n"
    ), denied.stdout
