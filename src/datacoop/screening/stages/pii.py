"""Personal data: faces in images, emails, phone numbers and ID numbers in text; the task's policy decides.

Settings (``rules.stages.pii``):

- ``faces``: ``"review"`` (default: a validator checks consent), ``"reject"``, ``"blur"``
  (blur every face in a copy stored as ``artifacts["blurred_cid"]`` and keep the item) or
  ``"allow"``; ``face_side`` (512), ``face_scale_factor`` (1.2), ``face_min_neighbors`` (4);
- ``text``: ``"review"`` (default), ``"reject"``, ``"redact"`` (also ``"blur"``: replace each
  finding with its type in a copy stored as ``artifacts["redacted_cid"]``) or ``"allow"``;
  ``text_threshold`` (0.4): the lowest recognizer score that counts.

Reasons count what was found and never repeat it: the finding itself is personal data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any, ClassVar

from PIL import Image

from datacoop.screening.base import ItemContext, StageResult, TaskView, Verdict
from datacoop.screening.stages._deps import require
from datacoop.screening.stages._faces import FaceSettings, blur_faces, find_faces
from datacoop.screening.stages._raster import PIL_FORMATS
from datacoop.screening.stages._textpii import ENTITY_NAMES, find_pii, redact
from datacoop.tasks.rules import Modality

__all__ = ["POLICIES", "PiiStage"]

require("pii", "numpy", "cv2", "presidio_analyzer", "tldextract")

POLICIES = ("reject", "blur", "review", "allow")
_DEFAULT_POLICY = "review"  # unknown or missing: a person decides, nothing is silently kept or lost


def _policy(params: Mapping[str, Any], key: str) -> str:
    value = str(params.get(key, _DEFAULT_POLICY)).lower()
    value = "blur" if value == "redact" else value  # redacting is text's blurring
    return value if value in POLICIES else _DEFAULT_POLICY


def _counted(counts: Mapping[str, int], names: Mapping[str, tuple[str, str]]) -> str:
    said = [f"{n} {names[k][0] if n == 1 else names[k][1]}" for k, n in counts.items()]
    return said[0] if len(said) == 1 else ", ".join(said[:-1]) + " and " + said[-1]


class PiiStage:
    """Finds faces or personal data and applies the task's policy: reject, blur/redact, review or allow."""

    name: ClassVar[str] = "pii"
    modalities: ClassVar[frozenset[Modality]] = frozenset({Modality.IMAGE, Modality.TEXT})
    cost: ClassVar[int] = 60

    def run(self, item: ItemContext, task: TaskView) -> StageResult:
        params = task.params(self.name)
        if task.modality is Modality.TEXT:
            text = item.scratch.get("text")
            if not isinstance(text, str):
                return StageResult(self.name, Verdict.SKIPPED, ("the text was not decoded",))
            return self._text(item, text, params)
        image = item.scratch.get("image")
        if not isinstance(image, Image.Image):
            return StageResult(self.name, Verdict.SKIPPED, ("the image was not decoded",))
        return self._faces(item, image, params)

    def _faces(self, item: ItemContext, image: Image.Image, params: Mapping[str, Any]) -> StageResult:
        default = FaceSettings()
        settings = FaceSettings(
            side=int(params.get("face_side", default.side)),
            scale_factor=float(params.get("face_scale_factor", default.scale_factor)),
            min_neighbors=int(params.get("face_min_neighbors", default.min_neighbors)),
        )
        boxes = find_faces(image, settings)
        policy = _policy(params, "faces")
        details: dict[str, Any] = {"faces": len(boxes), "policy": policy}
        if not boxes:
            return StageResult(self.name, Verdict.PASS, score=1.0, details=details)
        found = _counted({"face": len(boxes)}, {"face": ("face", "faces")})
        if policy == "blur":
            kind = str(item.scratch.get("format"))
            cid = item.put_blob(blur_faces(item.data(), PIL_FORMATS[kind], boxes))
            reason = f"the image shows {found}, blurred in the copy others receive"
            return StageResult(self.name, Verdict.PASS, (reason,), 0.5, details, {"blurred_cid": cid})
        return self._apply(policy, f"the image shows {found}", details, "images of people")

    def _text(self, item: ItemContext, text: str, params: Mapping[str, Any]) -> StageResult:
        spans = find_pii(text, threshold=float(params.get("text_threshold", 0.4)))
        policy = _policy(params, "text")
        counts = Counter(s.entity for s in spans)
        details: dict[str, Any] = {"found": dict(counts), "policy": policy}
        if not spans:
            return StageResult(self.name, Verdict.PASS, score=1.0, details=details)
        found = f"the text contains {_counted(counts, ENTITY_NAMES)}"
        if policy == "blur":
            cid = item.put_blob(redact(text, spans).encode("utf-8"))
            reason = f"{found}, replaced by placeholders in the copy others receive"
            return StageResult(self.name, Verdict.PASS, (reason,), 0.5, details, {"redacted_cid": cid})
        return self._apply(policy, found, details, "personal contact or ID details")

    def _apply(self, policy: str, found: str, details: dict[str, Any], refused: str) -> StageResult:
        if policy == "reject":
            return StageResult(
                self.name, Verdict.FAIL, (f"{found}; this task does not accept {refused}",), 0.0, details
            )
        if policy == "allow":
            return StageResult(self.name, Verdict.PASS, (f"{found} (allowed by this task)",), 0.5, details)
        return StageResult(self.name, Verdict.UNSURE, (f"{found}; a validator will check it",), 0.5, details)
