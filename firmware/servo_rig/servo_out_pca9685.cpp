// Servo pulses from a PCA9685 16-channel PWM board over I2C (Wire), 50 Hz frames.
#include "config.h"
#ifdef RIG_OUTPUT_PCA9685

#include <Arduino.h>
#include <Wire.h>

#include "servo_out.h"

static const uint8_t REG_MODE1 = 0x00;
static const uint8_t REG_LED0_ON_L = 0x06;
static const uint8_t REG_PRESCALE = 0xfe;
static const uint8_t MODE1_SLEEP = 0x10;
static const uint8_t MODE1_AI = 0x20;  // register auto-increment
static const uint8_t FULL_OFF = 0x10;  // bit 4 of LEDn_OFF_H
// prescale = round(osc / (4096 * 50 Hz)) - 1; the frame is then (prescale + 1) * 4096 / osc.
static const uint8_t PRESCALE = (uint8_t)((RIG_PCA9685_OSC_HZ + 4096UL * 25) / (4096UL * 50) - 1);
static const uint32_t FRAME_100NS = (uint32_t)((PRESCALE + 1) * 4096ULL * 10000000ULL / RIG_PCA9685_OSC_HZ);
// Write each changed channel at most once per frame: the board only shows one value per frame.
static const uint16_t WRITE_INTERVAL_MS = 20;

static uint16_t s_counts[RIG_CHANNELS];  // 0 = detached
static uint16_t s_dirty;                 // one bit per channel still to be written
static uint16_t s_last_write_ms;

static void write_reg(uint8_t reg, uint8_t value) {
    Wire.beginTransmission(RIG_PCA9685_ADDR);
    Wire.write(reg);
    Wire.write(value);
    Wire.endTransmission();
}

static void write_channel(uint8_t ch) {
    uint16_t counts = s_counts[ch];
    Wire.beginTransmission(RIG_PCA9685_ADDR);
    Wire.write((uint8_t)(REG_LED0_ON_L + 4 * ch));
    Wire.write((uint8_t)0);  // on at count 0
    Wire.write((uint8_t)0);
    Wire.write((uint8_t)(counts & 0xff));
    Wire.write((uint8_t)(counts ? (counts >> 8) : FULL_OFF));
    Wire.endTransmission();
}

void servo_out_begin() {
    Wire.begin();
    Wire.setClock(400000UL);
    write_reg(REG_MODE1, MODE1_SLEEP);  // the prescaler can only be set while asleep
    write_reg(REG_PRESCALE, PRESCALE);
    write_reg(REG_MODE1, MODE1_AI);
    for (uint8_t ch = 0; ch < RIG_CHANNELS; ch++) {
        s_counts[ch] = 0;
        write_channel(ch);
    }
    s_dirty = 0;
}

void servo_out_set(uint8_t ch, uint16_t us) {
    // counts = us / (frame / 4096), rounded; us * 4096 * 10 stays below 2^32
    uint16_t counts = (uint16_t)(((uint32_t)us * 40960UL + FRAME_100NS / 2) / FRAME_100NS);
    if (counts != s_counts[ch]) {
        s_counts[ch] = counts;
        s_dirty |= (uint16_t)(1U << ch);
    }
}

void servo_out_detach(uint8_t ch) {
    s_counts[ch] = 0;
    write_channel(ch);  // at once: detaching is a safety action
    s_dirty &= (uint16_t)~(1U << ch);
}

void servo_out_poll() {
    uint16_t now = (uint16_t)millis();
    if (!s_dirty || (uint16_t)(now - s_last_write_ms) < WRITE_INTERVAL_MS) return;
    s_last_write_ms = now;
    for (uint8_t ch = 0; ch < RIG_CHANNELS; ch++) {
        if (s_dirty & (1U << ch)) write_channel(ch);
    }
    s_dirty = 0;
}

#endif
