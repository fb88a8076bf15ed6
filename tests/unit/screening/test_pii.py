"""The PII stage: faces under each task policy, and emails, phone numbers and ID numbers in text."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from tests.data.make_corpus import TEXT, astronaut, encode, scene
from tests.unit.screening.items import Blobs, make_item, make_task

from datacoop.screening.base import StageResult, Verdict
from datacoop.screening.stages._faces import Box, FaceSettings, find_faces
from datacoop.screening.stages.decode import DecodeStage
from datacoop.screening.stages.pii import PiiStage

EMAIL, PHONE, SSN = "jane.doe@example.org", "+1 415-555-0132", "536-22-1234"


def pii(data: bytes, blobs: Blobs, modality: str = "image", **settings: object) -> StageResult:
    item, task = make_item(data, blobs), make_task(modality, stages={"pii": settings})
    assert DecodeStage().run(item, task).verdict is Verdict.PASS
    return PiiStage().run(item, task)


def overlaps(a: Box, b: Box) -> bool:
    return (
        a.left < b.left + b.width
        and b.left < a.left + a.width
        and a.top < b.top + b.height
        and b.top < a.top + a.height
    )


def test_the_cascade_finds_the_astronauts_face_and_none_in_a_scene() -> None:
    assert len(find_faces(astronaut(), FaceSettings())) == 1
    assert find_faces(scene(), FaceSettings()) == []


@pytest.mark.parametrize(
    ("policy", "verdict", "words"),
    [
        ("review", Verdict.UNSURE, "the image shows 1 face; a validator will check it"),
        ("reject", Verdict.FAIL, "the image shows 1 face; this task does not accept images of people"),
        ("allow", Verdict.PASS, "the image shows 1 face (allowed by this task)"),
        (
            "nonsense",
            Verdict.UNSURE,
            "the image shows 1 face; a validator will check it",
        ),  # falls back to review
    ],
)
def test_face_policies(policy: str, verdict: Verdict, words: str, blobs: Blobs) -> None:
    result = pii(encode(astronaut()), blobs, faces=policy)

    assert (result.verdict, result.reasons) == (verdict, (words,))
    assert result.details["faces"] == 1 and not blobs.stored


def test_blur_policy_stores_a_copy_where_no_face_is_found_again(blobs: Blobs) -> None:
    # Prepare
    original = astronaut()

    # Execute
    result = pii(encode(original, "PNG"), blobs, faces="blur")

    # Assert
    assert result.verdict is Verdict.PASS and "blurred in the copy others receive" in result.reasons[0]
    (face,) = find_faces(original, FaceSettings())
    with Image.open(io.BytesIO(blobs.stored[result.artifacts["blurred_cid"]])) as stored:
        assert stored.format == "PNG" and stored.size == original.size
        blurred = stored.convert("RGB")
    # The cascade may still fire on other textures (it does, once, on the suit), never on the face.
    assert all(not overlaps(face, box) for box in find_faces(blurred, FaceSettings()))
    corner = (0, 400, 100, 512)  # far from the face: untouched
    assert blurred.crop(corner).tobytes() == original.crop(corner).tobytes()


def test_no_face_passes(blobs: Blobs) -> None:
    result = pii(encode(scene()), blobs, faces="reject")

    assert result.verdict is Verdict.PASS and result.details["faces"] == 0


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (f"{TEXT} Mail {EMAIL}.", {"EMAIL_ADDRESS": 1}),
        (f"{TEXT} Call {PHONE} or (212) 555-0199.", {"PHONE_NUMBER": 2}),
        (f"{TEXT} My SSN is {SSN}.", {"US_SSN": 1}),
        (
            f"{TEXT} IBAN DE89370400440532013000, card 4111 1111 1111 1111.",
            {"IBAN_CODE": 1, "CREDIT_CARD": 1},
        ),
        (TEXT, {}),
    ],
    ids=["email", "phones", "ssn", "bank", "none"],
)
def test_text_pii_is_found_and_not_repeated(text: str, found: dict[str, int], blobs: Blobs) -> None:
    result = pii(text.encode(), blobs, "text")

    assert result.details["found"] == found
    assert result.verdict is (Verdict.UNSURE if found else Verdict.PASS)
    for secret in (EMAIL, PHONE, SSN, "DE89370400440532013000"):
        assert secret not in " ".join(result.reasons)


def test_text_reject_names_what_was_found(blobs: Blobs) -> None:
    result = pii(f"{TEXT} Mail {EMAIL} or call {PHONE}.".encode(), blobs, "text", text="reject")

    assert result.verdict is Verdict.FAIL
    assert result.reasons == (
        "the text contains 1 email address and 1 phone number; "
        "this task does not accept personal contact or ID details",
    )


def test_redact_policy_stores_a_copy_with_placeholders(blobs: Blobs) -> None:
    result = pii(f"{TEXT} Mail {EMAIL} or call {PHONE}.".encode(), blobs, "text", text="redact")

    redacted = blobs.stored[result.artifacts["redacted_cid"]].decode()
    assert result.verdict is Verdict.PASS
    assert EMAIL not in redacted and PHONE not in redacted
    assert redacted.endswith("Mail [EMAIL_ADDRESS] or call [PHONE_NUMBER].")


@pytest.mark.parametrize("share", [0.06, 0.1, 0.3])  # the cascade before alt2 missed 0.06
def test_a_face_in_a_12_megapixel_photo_is_found_through_the_reduced_copy(share: float, blobs: Blobs) -> None:
    # Prepare: the astronaut's face pasted into a 4000×3000 photo, its width a share of the long side
    photo = scene((4000, 3000))
    (box,) = find_faces(astronaut(), FaceSettings())
    side = astronaut().size[0]
    face = astronaut().crop(
        (round(box.left * side), round(box.top * side), round((box.left + box.width) * side),
         round((box.top + box.height) * side))
    )  # fmt: skip
    width = round(share * 4000)
    photo.paste(face.resize((width, width)), (1500, 900))

    # Execute: decode (1/4-scale JPEG draft) and the face check, as the pipeline runs them
    result = pii(encode(photo, quality=90), blobs, faces="reject")

    # Assert
    assert result.verdict is Verdict.FAIL and result.details["faces"] == 1
