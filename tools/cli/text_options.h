// Where the text side comes from on the command line: a pipeline folder (--model) and/or
// single files (--clip-l, --clip-g, --t5xxl), as stable-diffusion.cpp and ComfyUI users have.
#pragma once

#include <string>

#include "args.h"
#include "paradit/paradit.h"
#include "pipelines/sd35/prompt_encoder.h"

namespace paradit::cli {

// The options this adds to a command.
inline const std::vector<std::string> kTextOptions = {"model", "clip-l", "clip-g", "t5xxl", "no-t5"};

TextEncoderFiles text_encoder_files(const Args& args);
// The transformer's joint_attention_dim when --model holds one, else T5's width (or 4096).
int64_t joint_dim_for(const Args& args);

// The options every pipeline-loading command shares (generate, serve).
inline const std::vector<std::string> kPipelineOptions = {"model", "transformer", "clip-l", "clip-g", "t5xxl", "vae", "no-t5",
                                                          "dtype", "threads", "vae-tiling", "device"};
api::LoadOptions load_options(const Args& args);

}  // namespace paradit::cli
