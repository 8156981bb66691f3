// Background ADC reads of the feedback pots (no analogRead(): it waits ~110 us per conversion).
#include "feedback.h"

#include <Arduino.h>

#if RIG_FEEDBACK_CHANNELS > 0
static int16_t s_adc[RIG_FEEDBACK_CHANNELS];
static uint8_t s_current;

static void start_conversion(uint8_t ch) {
    ADMUX = (uint8_t)(_BV(REFS0) | ch);  // AVcc reference, right-adjusted, channel ch
    ADCSRA |= _BV(ADSC);
}
#endif

void feedback_begin() {
#if RIG_FEEDBACK_CHANNELS > 0
    for (uint8_t ch = 0; ch < RIG_FEEDBACK_CHANNELS; ch++) s_adc[ch] = -1;
    s_current = 0;
    start_conversion(0);  // the core's init() has enabled the ADC with a 125 kHz clock
#endif
}

void feedback_poll() {
#if RIG_FEEDBACK_CHANNELS > 0
    if (ADCSRA & _BV(ADSC)) return;
    uint8_t low = ADCL;  // ADCL first: reading it locks ADCH until ADCH is read
    uint8_t high = ADCH;
    s_adc[s_current] = (int16_t)((high << 8) | low);
    s_current = (uint8_t)((s_current + 1) % RIG_FEEDBACK_CHANNELS);
    start_conversion(s_current);
#endif
}

int16_t feedback_adc(uint8_t ch) {
#if RIG_FEEDBACK_CHANNELS > 0
    if (ch < RIG_FEEDBACK_CHANNELS) return s_adc[ch];
#else
    (void)ch;
#endif
    return -1;
}

int16_t feedback_expected(uint16_t us) {
    int32_t span = (int32_t)RIG_FB_AT_2500 - RIG_FB_AT_500;
    return (int16_t)(RIG_FB_AT_500 + ((int32_t)us - RIG_MIN_US) * span / (RIG_MAX_US - RIG_MIN_US));
}

uint16_t feedback_to_us(int16_t adc) {
    int32_t span = (int32_t)RIG_FB_AT_2500 - RIG_FB_AT_500;
    int32_t us = RIG_MIN_US + ((int32_t)adc - RIG_FB_AT_500) * (RIG_MAX_US - RIG_MIN_US) / span;
    if (us < RIG_MIN_US) us = RIG_MIN_US;
    if (us > RIG_MAX_US) us = RIG_MAX_US;
    return (uint16_t)us;
}
