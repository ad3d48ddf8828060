"""Speech for the caption tests: espeak-ng sentences at 48 kHz, and what they should read."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

import numpy as np

RATE = 48_000
# Short plain sentences, no digits (Whisper writes numbers as figures), two per language.
SENTENCES: dict[str, tuple[str, ...]] = {
    "en": ("The committee approves the budget for next year.",
           "Please send the report to every delegation before Friday."),
    "fr": ("Le comité approuve le budget de l'année prochaine.",
           "Merci d'envoyer le rapport à toutes les délégations."),
    "es": ("El comité aprueba el presupuesto del próximo año.",
           "Por favor envíen el informe a todas las delegaciones."),
}


@cache
def speech(language: str, text: str) -> np.ndarray:
    """`text` spoken by espeak-ng in `language`, mono float32 at 48 kHz, at about -20 dBFS."""
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is missing: scripts/test.sh installs it")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "s.wav"
        subprocess.run(["espeak-ng", "-v", language, "-s", "150", "-w", str(wav), text],
                       check=True, capture_output=True)
        import av

        out: list[np.ndarray] = []
        with av.open(str(wav)) as container:
            resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
            for frame in container.decode(audio=0):
                for f in resampler.resample(frame):
                    out.append(f.to_ndarray().reshape(-1))
            for f in resampler.resample(None):
                out.append(f.to_ndarray().reshape(-1))
    x = np.concatenate(out).astype(np.float32)
    peak = float(np.max(np.abs(x))) or 1.0
    return (x * (0.3 / peak)).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * RATE), dtype=np.float32)
