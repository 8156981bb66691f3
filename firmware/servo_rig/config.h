// Compile-time choices for the servo rig firmware (protocol v1, docs/servo-protocol.md).
// Build with -DRIG_OUTPUT_PCA9685 for a PCA9685 board over I2C (default: servos on pins D2-D7),
// and -DRIG_FEEDBACK=1 when feedback pots are wired to A0-A3 (channels 0-3).
#pragma once

#include <stdint.h>

#define RIG_FW_VERSION "1.0.0"
#define RIG_PROTO 1

#if defined(RIG_OUTPUT_PCA9685)
#define RIG_CHANNELS 16
#ifndef RIG_PCA9685_ADDR
#define RIG_PCA9685_ADDR 0x40
#endif
// The PCA9685's internal oscillator is nominally 25 MHz but varies by a few percent per chip:
// measure one pulse with a scope or logic analyser and set this to trim the widths.
#ifndef RIG_PCA9685_OSC_HZ
#define RIG_PCA9685_OSC_HZ 25000000UL
#endif
#else
#define RIG_OUTPUT_PINS 1
// Channels 0-5 on D2-D7: all on PORTD, so one port write ends one pulse and starts the next.
#define RIG_CHANNELS 6
#define RIG_FIRST_PIN 2
#endif

#ifndef RIG_FEEDBACK
#define RIG_FEEDBACK 0
#endif
// Channels 0..RIG_FEEDBACK_CHANNELS-1 read their feedback pot on A0.. (A4/A5 stay free for I2C).
#define RIG_FEEDBACK_CHANNELS (RIG_FEEDBACK ? 4 : 0)
// Feedback ADC reading expected at 500 us and at 2500 us (linear between), and the tolerance
// within which the servo counts as on target.
#ifndef RIG_FB_AT_500
#define RIG_FB_AT_500 0
#endif
#ifndef RIG_FB_AT_2500
#define RIG_FB_AT_2500 1023
#endif
#ifndef RIG_FB_TOLERANCE
#define RIG_FB_TOLERANCE 20
#endif

#define RIG_MIN_US 500
#define RIG_MAX_US 2500
#define RIG_BACKLASH_US 40
#define RIG_DEFAULT_SPEED_US_PER_S 300
#define RIG_MAX_SPEED_US_PER_S 20000
#define RIG_SETTLE_MS 300UL
#define RIG_STALL_MS 5000UL
#define RIG_WATCHDOG_MS 60000UL
// The longest line either way: a 16-channel POS with 4 feedback readings is 147 characters
// ("POS 65535 0=2500/1023 ... 15=2500"), a 16-channel MOVE or DONE 128.
#define RIG_LINE_MAX 160
