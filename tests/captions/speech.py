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
# What the word error rate is measured on (test_worker.py, bench/captions.py): the two above and
# six more ordinary meeting sentences per language, written once for this and not chosen by how
# a model does on them (two sentences are 17-18 words: one word was 6 points of WER).
CORPUS: dict[str, tuple[str, ...]] = {
    "en": (*SENTENCES["en"],
           "Good morning, and welcome to the second session of the working group.",
           "The delegation of Kenya has asked for the floor.",
           "We will now vote on the draft resolution as amended.",
           "Interpretation is available in six languages during this meeting.",
           "I thank the secretariat for preparing these documents so quickly.",
           "The meeting is adjourned until tomorrow morning."),
    "fr": (*SENTENCES["fr"],
           "Bonjour et bienvenue à la deuxième séance du groupe de travail.",
           "La délégation du Kenya a demandé la parole.",
           "Nous allons maintenant voter sur le projet de résolution tel qu'amendé.",
           "L'interprétation est disponible en six langues pendant cette réunion.",
           "Je remercie le secrétariat d'avoir préparé ces documents si rapidement.",
           "La séance est levée jusqu'à demain matin."),
    "es": (*SENTENCES["es"],
           "Buenos días y bienvenidos a la segunda sesión del grupo de trabajo.",
           "La delegación de Kenia ha pedido la palabra.",
           "Ahora vamos a votar el proyecto de resolución con las enmiendas.",
           "La interpretación está disponible en seis idiomas durante esta reunión.",
           "Agradezco a la secretaría por preparar estos documentos tan rápido.",
           "Se levanta la sesión hasta mañana por la mañana."),
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
