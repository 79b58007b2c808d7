// `pagedllm models`: the same listing as `pagedllm models list`, as users of `huggingface-cli scan-cache` expect one word to do.
import ModelsList from './list.js'

export default class Models extends ModelsList {
  static override description = 'List the models in the Hugging Face cache (same as `models list`; see also `models rm`)'
}
