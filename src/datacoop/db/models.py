


class RateLimitCounter(Base):
    """Requests one caller made under one limit in one fixed window: shared by every API process.

    ``key`` is ``<limit>:<address|client>:<who>``; ``window_start`` is unix seconds divided by
    the window's length. One UPSERT counts a request; windows older than the last are purged.
    """

    __tablename__ = "rate_limit_counters"
    __table_args__ = (Index("ix_rate_limit_counters_window_start", "window_start"),)

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
