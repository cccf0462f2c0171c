"""The dpVAE sub-commands chained on two moons: train (standard and decoupled prior), evaluate, Table 1, Figures."""

import json
import math

from vaepriors.cli import main

EVAL_SETTINGS = ["skl-samples", "300", "reference-posteriors", "100", "leakage-samples", "200", "nll-samples", "20",
                 "nll-examples", "20", "figure-samples", "200", "density-grid", "20"]


def _eval_flags(prefix: str) -> list[str]:
    return [f"--{prefix}{token}" if index % 2 == 0 else token for index, token in enumerate(EVAL_SETTINGS)]


def _evaluate_alone(tmp_path, prior: str, name: str) -> None:
    main(["dpvae-evaluate", "--dataset", "moons", "--snapshot", str(tmp_path / prior / "final.pt"), "--out-json",
          str(tmp_path / f"{name}.json"), "--out-npz", str(tmp_path / f"{name}.npz"), *_eval_flags(""),
          "--device", "cpu"])


def test_two_moons_chain_through_the_cli(tmp_path):
    """The training job evaluates its runs in-process (--eval-jsons, what the workflow runs); that evaluation equals
    the standalone dpvae-evaluate of the same snapshot."""
    for prior in ("standard", "decoupled"):
        main(["dpvae-train", "--dataset", "moons", "--regulariser", "beta_h", "--regulariser-params",
              '{"beta": 4.0}', "--prior", prior, "--iterations", "60", "--log-every", "20",
              "--checkpoint-every", "20", "--seeds", "0", "--run-dirs", str(tmp_path / prior), "--checkpoint",
              str(tmp_path / f"{prior}.ckpt"), "--eval-jsons", str(tmp_path / f"{prior}.json"), "--eval-npzs",
              str(tmp_path / f"{prior}.npz"), *_eval_flags("eval-"), "--device", "cpu"])
        status = json.loads((tmp_path / prior / "status.json").read_text())
        assert not status["diverged"], status
        record = json.loads((tmp_path / f"{prior}.json").read_text())
        assert record["prior"] == prior and record["fid"] is None  # no FID for two moons
        assert math.isfinite(record["skl"]) and math.isfinite(record["nll_is"])  # the 1-NN sKL may dip below 0
    main(["dpvae-table1", "--evaluations", str(tmp_path / "standard.json"), str(tmp_path / "decoupled.json"),
          "--out-tex", str(tmp_path / "table1.tex"), "--out-csv", str(tmp_path / "table1.csv")])
    assert "tabular" in (tmp_path / "table1.tex").read_text()
    main(["dpvae-figure1", "--standard", str(tmp_path / "standard.npz"), "--decoupled",
          str(tmp_path / "decoupled.npz"), "--out", str(tmp_path / "figure1.png")])
    main(["dpvae-figure4", "--artifacts", str(tmp_path / "standard.npz"), str(tmp_path / "decoupled.npz"),
          "--out", str(tmp_path / "figure4.png")])
    for name in ("figure1", "figure4"):
        assert (tmp_path / f"{name}.png").stat().st_size > 0 and (tmp_path / f"{name}.pdf").is_file()
    _evaluate_alone(tmp_path, "decoupled", "alone")
    assert json.loads((tmp_path / "alone.json").read_text()) == json.loads((tmp_path / "decoupled.json").read_text())
