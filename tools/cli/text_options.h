// Where the text side comes from on the command line: a pipeline folder (--model) and/or
// single files (--clip-l, --clip-g, --t5xxl), as stable-diffusion.cpp and ComfyUI users have.
#pragma once

#include <string>

#include "args.h"
#include "pipelines/sd35/prompt_encoder.h"

namespace paradit::cli {

// The options this adds to a command.
inline const std::vector<std::string> kTextOptions = {"model", "clip-l", "clip-g", "t5xxl", "no-t5"};

TextEncoderFiles text_encoder_files(const Args& args);
// The transformer's joint_attention_dim when --model holds one, else T5's width (or 4096).
int64_t joint_dim_for(const Args& args);

}  // namespace paradit::cli
