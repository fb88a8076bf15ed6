"""Audio metadata and loudness without decoding more than a WAV's own samples.

WAV is read by a small RIFF parser of our own: the stdlib ``wave`` module refuses
WAVE_FORMAT_EXTENSIBLE files before Python 3.12 and does not say whether the data chunk
is cut short. FLAC, Ogg and MP3 durations come from ``mutagen``, which reads headers only.
"""

from __future__ import annotations

import io
import math
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used, see _deps.py
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["AudioError", "AudioInfo", "Levels", "read_info", "wav_levels"]

_PCM, _FLOAT, _EXTENSIBLE = 1, 3, 0xFFFE
_FLOOR_DBFS = -120.0
_CHUNK_FRAMES = 1 << 18  # loudness is summed over slices this long, so memory stays small


class AudioError(ValueError):
    """The recording cannot be read (``truncated`` says whether it just stops early)."""

    def __init__(self, message: str, *, truncated: bool = False) -> None:
        super().__init__(message)
        self.truncated = truncated


@dataclass(frozen=True)
class AudioInfo:
    format: str
    duration_s: float
    sample_rate: int
    channels: int


@dataclass(frozen=True)
class Levels:
    """Loudness in dBFS (0 is full scale; silence is -120) and the share of clipped samples."""

    rms_dbfs: float
    peak_dbfs: float
    clipped_share: float


@dataclass(frozen=True)
class _Wav:
    encoding: int
    channels: int
    sample_rate: int
    bits: int
    data_start: int
    data_size: int

    @property
    def frame_bytes(self) -> int:
        return max(1, self.channels * (self.bits // 8))


def read_info(kind: str, data: bytes) -> AudioInfo:
    """Duration, rate and channels of a WAV, FLAC, Ogg or MP3 recording."""
    if kind == "wav":
        wav = _parse_wav(data)
        frames = wav.data_size // wav.frame_bytes
        return AudioInfo("wav", frames / wav.sample_rate, wav.sample_rate, wav.channels)
    import mutagen

    try:
        found = mutagen.File(io.BytesIO(data))
    except Exception as exc:  # mutagen raises many kinds on hostile input; all mean "unreadable"
        raise AudioError(str(exc) or type(exc).__name__) from exc
    if found is None or found.info is None:
        raise AudioError(f"no {kind.upper()} stream could be read")
    info = found.info
    rate = int(getattr(info, "sample_rate", 0) or 0)
    return AudioInfo(kind, float(info.length or 0.0), rate, int(getattr(info, "channels", 0) or 0))


def _parse_wav(data: bytes) -> _Wav:
    try:
        return _walk_riff(data)
    except struct.error as exc:  # a chunk header or body cut short
        raise AudioError("the WAV file ends inside a chunk", truncated=True) from exc


def _walk_riff(data: bytes) -> _Wav:
    fmt: tuple[int, int, int, int] | None = None
    pos = 12
    while pos + 8 <= len(data):
        chunk_id, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = pos + 8
        if chunk_id == b"fmt " and size >= 16:
            encoding, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", data, body)
            if encoding == _EXTENSIBLE and size >= 26:
                (encoding,) = struct.unpack_from("<H", data, body + 24)  # the sub-format GUID's first field
            fmt = (encoding, channels, rate, bits)
        elif chunk_id == b"data":
            if fmt is None:
                raise AudioError("the WAV data comes before its format description")
            if body + size > len(data):
                raise AudioError("the WAV data chunk is cut short", truncated=True)
            return _checked(_Wav(*fmt, data_start=body, data_size=size))
        pos = body + size + (size & 1)  # chunks are padded to an even length
    raise AudioError("the WAV file has no sound data (no data chunk)", truncated=fmt is not None)


def _checked(wav: _Wav) -> _Wav:
    if wav.channels == 0 or wav.sample_rate == 0:
        raise AudioError("the WAV header declares no channels or a sample rate of 0")
    return wav


def wav_levels(data: bytes) -> Levels | None:
    """RMS and peak level of a PCM or float WAV; None for other encodings (ADPCM, μ-law …)."""
    import numpy as np

    wav = _parse_wav(data)
    if wav.encoding not in (_PCM, _FLOAT) or wav.bits not in (8, 16, 24, 32):
        return None
    view = memoryview(data)[wav.data_start : wav.data_start + wav.data_size]
    step = _CHUNK_FRAMES * wav.frame_bytes
    squares, peak, clipped, count = 0.0, 0.0, 0, 0
    for offset in range(0, len(view) - len(view) % wav.frame_bytes, step):
        samples = _samples(view[offset : offset + step], wav)
        magnitude = np.abs(samples)
        squares += float(np.dot(samples, samples))
        peak = max(peak, float(magnitude.max(initial=0.0)))
        clipped += int(np.count_nonzero(magnitude >= 0.999))
        count += samples.size
    if count == 0:
        return Levels(_FLOOR_DBFS, _FLOOR_DBFS, 0.0)
    return Levels(_dbfs(math.sqrt(squares / count)), _dbfs(peak), clipped / count)


def _samples(raw: memoryview, wav: _Wav) -> NDArray[np.float64]:
    """Samples scaled to [-1, 1]."""
    import numpy as np

    usable = len(raw) - len(raw) % (wav.bits // 8)
    raw = raw[:usable]
    if wav.encoding == _FLOAT:
        dtype = "<f4" if wav.bits == 32 else "<f8"
        return np.frombuffer(raw[: len(raw) - len(raw) % np.dtype(dtype).itemsize], dtype).astype(np.float64)
    if wav.bits == 8:  # 8-bit WAV is unsigned with 128 as silence
        return (np.frombuffer(raw, np.uint8).astype(np.float64) - 128.0) / 128.0
    if wav.bits == 24:
        triples = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        values = triples[:, 0] | (triples[:, 1] << 8) | (triples[:, 2] << 16)
        values = np.where(values >= 1 << 23, values - (1 << 24), values)
        return values.astype(np.float64) / float(1 << 23)
    dtype = "<i2" if wav.bits == 16 else "<i4"
    return np.frombuffer(raw, dtype).astype(np.float64) / float(1 << (wav.bits - 1))


def _dbfs(value: float) -> float:
    # Floored at -120 dBFS (below any 24-bit noise floor) so results stay finite JSON numbers.
    return max(_FLOOR_DBFS, 20.0 * math.log10(value)) if value > 0 else _FLOOR_DBFS
