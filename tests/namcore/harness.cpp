// A host for NAM's C++ core, for the station's tests and benchmarks: loads a .nam with
// nam::get_dsp, feeds its audio (float64 raw, mono) on channel 0 and constants on any other
// input channel, writes the output (float64 raw, channel 0) and prints one JSON line of what
// the core read: channels, levels, loudness, sample rate, CPU seconds spent in process().
//
//   harness MODEL.nam IN.f64 OUT.f64 [--const V ...] [--block N] [--rate HZ]
//   harness MODEL.nam --info
//
// Built once per core commit by tests/namcore/core.py; NAM_HARNESS_MONO selects the mono
// API of core 0.2.0 (the plugin's v0.7.13 release).
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "dsp.h"
#include "get_dsp.h"

namespace
{
double cpu_seconds()
{
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

std::string json_string(const std::string& s)
{
  std::ostringstream out;
  out << '"';
  for (const char c : s)
  {
    if (c == '"' || c == '\\')
      out << '\\' << c;
    else if (c == '\n')
      out << "\\n";
    else if (static_cast<unsigned char>(c) < 0x20)
      out << ' ';
    else
      out << c;
  }
  out << '"';
  return out.str();
}

std::vector<double> read_raw(const std::string& path)
{
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw std::runtime_error("cannot read " + path);
  in.seekg(0, std::ios::end);
  const auto bytes = static_cast<size_t>(in.tellg());
  in.seekg(0);
  std::vector<double> samples(bytes / sizeof(double));
  in.read(reinterpret_cast<char*>(samples.data()), static_cast<std::streamsize>(samples.size() * sizeof(double)));
  return samples;
}

int in_channels(nam::DSP& dsp)
{
#ifdef NAM_HARNESS_MONO
  (void)dsp;
  return 1;
#else
  return dsp.NumInputChannels();
#endif
}

int out_channels(nam::DSP& dsp)
{
#ifdef NAM_HARNESS_MONO
  (void)dsp;
  return 1;
#else
  return dsp.NumOutputChannels();
#endif
}

void print_info(nam::DSP& dsp, const std::string& extra)
{
  std::cout << "{\"in_channels\": " << in_channels(dsp) << ", \"out_channels\": " << out_channels(dsp)
            << ", \"sample_rate\": " << dsp.GetExpectedSampleRate();
  if (dsp.HasInputLevel())
    std::cout << ", \"input_level_dbu\": " << dsp.GetInputLevel();
  if (dsp.HasOutputLevel())
    std::cout << ", \"output_level_dbu\": " << dsp.GetOutputLevel();
  if (dsp.HasLoudness())
    std::cout << ", \"loudness\": " << dsp.GetLoudness();
  std::cout << extra << "}" << std::endl;
}
} // namespace

int main(int argc, char** argv)
{
  if (argc < 3)
  {
    std::cerr << "usage: harness MODEL.nam IN.f64 OUT.f64 [--const V ...] [--block N] [--rate HZ] | MODEL.nam --info\n";
    return 2;
  }
  try
  {
    std::unique_ptr<nam::DSP> dsp = nam::get_dsp(std::filesystem::path(argv[1]));
    if (std::string(argv[2]) == "--info")
    {
      print_info(*dsp, "");
      return 0;
    }
    if (argc < 4)
      throw std::runtime_error("no output file named");
    std::vector<double> consts;
    int block = 64;
    double rate = dsp->GetExpectedSampleRate() > 0 ? dsp->GetExpectedSampleRate() : 48000.0;
    for (int i = 4; i < argc; i++)
    {
      const std::string arg = argv[i];
      if (arg == "--const" && i + 1 < argc)
        consts.push_back(std::atof(argv[++i]));
      else if (arg == "--block" && i + 1 < argc)
        block = std::atoi(argv[++i]);
      else if (arg == "--rate" && i + 1 < argc)
        rate = std::atof(argv[++i]);
      else
        throw std::runtime_error("unknown argument " + arg);
    }
    const int channels = in_channels(*dsp);
    if (static_cast<int>(consts.size()) != channels - 1)
      throw std::runtime_error("the model takes " + std::to_string(channels) + " input channels; "
                               + std::to_string(consts.size() + 1) + " given");
    const std::vector<double> audio = read_raw(argv[2]);
    dsp->ResetAndPrewarm(rate, block);

    std::vector<std::vector<NAM_SAMPLE>> in(channels, std::vector<NAM_SAMPLE>(block));
    std::vector<std::vector<NAM_SAMPLE>> out(out_channels(*dsp), std::vector<NAM_SAMPLE>(block));
    std::vector<NAM_SAMPLE*> in_ptrs, out_ptrs;
    for (auto& c : in)
      in_ptrs.push_back(c.data());
    for (auto& c : out)
      out_ptrs.push_back(c.data());
    for (int c = 1; c < channels; c++)
      std::fill(in[c].begin(), in[c].end(), static_cast<NAM_SAMPLE>(consts[c - 1]));

    std::vector<double> result(audio.size());
    double cpu = 0.0;
    for (size_t start = 0; start < audio.size(); start += block)
    {
      const int n = static_cast<int>(std::min<size_t>(block, audio.size() - start));
      for (int f = 0; f < n; f++)
        in[0][f] = static_cast<NAM_SAMPLE>(audio[start + f]);
      const double t0 = cpu_seconds();
#ifdef NAM_HARNESS_MONO
      dsp->process(in_ptrs[0], out_ptrs[0], n);
#else
      dsp->process(in_ptrs.data(), out_ptrs.data(), n);
#endif
      cpu += cpu_seconds() - t0;
      for (int f = 0; f < n; f++)
        result[start + f] = static_cast<double>(out[0][f]);
    }
    std::ofstream file(argv[3], std::ios::binary);
    file.write(reinterpret_cast<const char*>(result.data()), static_cast<std::streamsize>(result.size() * sizeof(double)));
    if (!file)
      throw std::runtime_error(std::string("cannot write ") + argv[3]);
    print_info(*dsp, ", \"frames\": " + std::to_string(audio.size()) + ", \"cpu_s\": " + std::to_string(cpu));
    return 0;
  }
  catch (const std::exception& e)
  {
    std::cout << "{\"error\": " << json_string(e.what()) << "}" << std::endl;
    return 3;
  }
}
