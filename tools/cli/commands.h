// The paradit subcommands; each returns the process exit code.
#pragma once

#include <string>

#include "core/dtype.h"
#include "core/tensor.h"

namespace paradit::cli {

int run_info(int argc, char** argv);
int run_eval(int argc, char** argv);
int run_bench(int argc, char** argv);
int run_tokenize(int argc, char** argv);
int run_generate(int argc, char** argv);
int run_serve(int argc, char** argv);
int run_plan(int argc, char** argv);
class Args;
int run_make_pipeline(const Args& args);
int run_eval_text(const std::string& component, int argc, char** argv);

// Shared flag parsing.
DType parse_dtype(const std::string& s);  // "f32" | "bf16"
void require_cpu(const std::string& device);
// cpu or cuda; cuda fails in one line (exit code 2) without a usable GPU, else picks this
// rank's GPU.
Device parse_device(const std::string& device);

}  // namespace paradit::cli
