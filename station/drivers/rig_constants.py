"""The servo rig's constants, one source for the driver, the twin, rig profiles and motion time.

They are the firmware's too: firmware/servo_rig/config.h defines each of them
(RIG_MIN_US, RIG_BACKLASH_US, ...), docs/servo-protocol.md states them, and
tests/firmware/test_constants.py parses config.h and compares.
"""

PROTO = 1  # the protocol version the banner and HELLO report (RIG_PROTO)
BAUD = 115200
PULSE_MIN_US = 500  # RIG_MIN_US: the narrowest pulse a MOVE may ask for
PULSE_MAX_US = 2500  # RIG_MAX_US
BACKLASH_US = 40  # RIG_BACKLASH_US: a move down first goes this far below, then up
DEFAULT_SPEED_US_PER_S = 300  # RIG_DEFAULT_SPEED_US_PER_S: slew rate after a reset
MAX_SPEED_US_PER_S = 20000  # RIG_MAX_SPEED_US_PER_S: SPEED refuses anything faster
SETTLE_S = 0.3  # RIG_SETTLE_MS: DONE comes this long after the last channel arrived
STALL_S = 5.0  # RIG_STALL_MS: feedback firmware reports E_STALL after this long off target
WATCHDOG_S = 60.0  # RIG_WATCHDOG_MS: no command this long detaches every channel
LINE_MAX = 160  # RIG_LINE_MAX: characters in a line either way (a 16-channel POS: up to 147)
FB_AT_500 = 0  # RIG_FB_AT_500: a feedback pot's ADC reading with its servo at 500 µs
FB_AT_2500 = 1023  # RIG_FB_AT_2500: and at 2500 µs (linear between)
FB_TOLERANCE = 20  # RIG_FB_TOLERANCE: ADC counts within which a servo counts as on target
