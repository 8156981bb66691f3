"""The firmware's twin (`--port virtual`) answers as the compiled firmware in simavr does.

The same lines go to both; HELLO, ACK, DONE, OK and POS must come back identical, a
channel never commanded since power-on included (`?`), and every line within the
protocol's LINE_MAX, a 16-channel board's full MOVE and POS too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from station.drivers.rig_constants import LINE_MAX, PULSE_MAX_US
from station.virtual.pedal import ServoBench
from station.virtual.twin import VirtualFirmware
from tests.firmware.sim import FirmwareSim, RawLink, toolchain_missing

pytestmark = pytest.mark.skipif(toolchain_missing() is not None, reason=str(toolchain_missing()))


class Twin:
    """The twin on its pty, with no feedback pots and no knobs: the firmware variants' board."""

    def __init__(self, channels: int, feedback: tuple[int, ...] = ()) -> None:
        self.fw = VirtualFirmware(
            bench=ServoBench(knobs=(), switches=()),
            channels=channels,
            version="1.0.0",
            feedback_channels=feedback,
        )
        self.link = RawLink(self.fw.device)  # opened before the banner, as a board resets
        self.fw.start()

    def close(self) -> None:
        self.link.close()
        self.fw.close()


@pytest.fixture
def pair(tmp_path: Path) -> Iterator:
    """Start a simulated board of a variant and a twin of as many channels."""
    opened: list = []

    def start(variant: str) -> tuple[RawLink, RawLink]:
        sim = FirmwareSim(tmp_path / f"{variant}.log", variant)
        link = RawLink(sim.pty_path)
        sim.go()
        twin = Twin(16 if variant == "pca9685" else 6)
        opened.extend([(sim, link), twin])
        return link, twin.link

    yield start
    for item in opened:
        if isinstance(item, Twin):
            item.close()
        else:
            item[1].close()
            item[0].close()


def both(links: tuple[RawLink, RawLink], line: str, replies: int = 1) -> list[str]:
    """Send `line` to the firmware and the twin; their replies, asserted identical and short."""
    got = []
    for link in links:
        link.send(line)
        got.append([link.read_line(timeout_s=60) for _ in range(replies)])
    assert got[0] == got[1], f"{line!r}: firmware {got[0]}, twin {got[1]}"
    assert all(len(reply) <= LINE_MAX for reply in got[0])
    return got[0]


@pytest.mark.parametrize(
    ("variant", "moved"),
    [
        ("pins", {0: 1500, 3: 1800}),
        # Every channel of a PCA9685 board, two-digit ones at the widest pulse: the longest MOVE,
        # DONE and POS lines a board without feedback sends.
        ("pca9685", {ch: PULSE_MAX_US if ch >= 10 else 1000 + 100 * ch for ch in range(16)}),
    ],
)
def test_the_twin_replies_as_the_firmware(pair, variant: str, moved: dict[int, int]) -> None:
    links = pair(variant)
    channels = 16 if variant == "pca9685" else 6
    banners = [link.read_line() for link in links]
    assert banners[0] == banners[1] == f"READY servo-rig 1.0.0 proto=1 channels={channels}"
    both(links, "HELLO 1")
    # Nothing commanded since power-on: no pulse to report, on either.
    assert both(links, "POS 2") == ["POS 2 " + " ".join(f"{ch}=?" for ch in range(channels))]
    both(links, "SPEED 3 20000")
    move = "MOVE 4 " + " ".join(f"{ch} {us}" for ch, us in moved.items())
    assert len(move) <= LINE_MAX
    done = "DONE 4 " + " ".join(f"{ch}={us}" for ch, us in sorted(moved.items()))
    assert both(links, move, replies=2) == ["ACK 4", done]
    expected = " ".join(f"{ch}={moved.get(ch, '?')}" for ch in range(channels))
    assert both(links, "POS 5") == [f"POS 5 {expected}"]
    both(links, f"DETACH 6 {min(moved)}")
    assert both(links, "POS 7") == [f"POS 7 {expected}"]  # detached, still where it was sent


def test_a_never_commanded_channel_with_a_pot_reports_where_it_reads(tmp_path: Path) -> None:
    """Before any command a pot says where a servo is: the pulse it reads and the reading;
    a channel without a pot says `?`. On both.

    pins-fb reads pots on channels 0-3; channel 0's is stuck at 1000 µs, the others are not
    connected (they read 0, as a horn at 500 µs does on the twin).
    """
    sim = FirmwareSim(tmp_path / "fb.log", "pins-fb", pots={0: "stuck:1000"})
    link = RawLink(sim.pty_path)
    twin = Twin(6, feedback=(0, 1, 2, 3))
    for ch, us in ((0, 1000.0), (1, 500.0), (2, 500.0), (3, 500.0)):
        twin.fw.bench.drive(ch, us)
    try:
        sim.go()
        replies = []
        for lk in (link, twin.link):
            lk.read_line()
            replies.append(lk.ask("POS 1"))
        fw, tw = (reply.split() for reply in replies)
        assert fw[:2] == tw[:2] == ["POS", "1"]
        assert fw[3:] == tw[3:] == ["1=500/0", "2=500/0", "3=500/0", "4=?", "5=?"]
        # Channel 0 alike but for the ADC count: two models of a pot may differ by one.
        reading = (1000 - 500) * 1023 / 2000
        for token in (fw[2], tw[2]):
            us, count = (int(x) for x in token.removeprefix("0=").split("/"))
            assert count == pytest.approx(reading, abs=1) and us == 500 + count * 2000 // 1023
    finally:
        twin.close()
        link.close()
        sim.close()


def test_the_longest_pos_fits_the_line_limit() -> None:
    """16 channels at 2500 µs, feedback on four of them, the largest id: within LINE_MAX."""
    twin = Twin(16, feedback=(0, 1, 2, 3))
    try:
        twin.link.read_line()
        assert twin.link.ask("SPEED 1 20000") == "OK 1"
        line = "MOVE 2 " + " ".join(f"{ch} {PULSE_MAX_US}" for ch in range(16))
        assert twin.link.ask(line) == "ACK 2"
        assert twin.link.read_line().startswith("DONE 2 ")
        reply = twin.link.ask("POS 65535")
        assert reply.count("/1023") == 4 and reply.endswith(" 15=2500")
        assert len(reply) == 147 <= LINE_MAX
    finally:
        twin.close()
