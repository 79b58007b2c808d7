// Locates the shared tinychat-llama-6m model (read from /work/shared at run time, never copied) and types its reference.json.
import {readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import type {ChatMessage} from '../../src/engine/model/tokenizer.js'

export const TINYCHAT_DIR = fileURLToPath(new URL('../../../shared/models/tinychat-llama-6m', import.meta.url))

export interface TinychatPrompt {
  kind: 'text' | 'chat'
  prompt: string | null
  messages: ChatMessage[] | null
  rendered_prompt: string | null
  prompt_token_ids: number[]
  greedy_token_ids: number[]
  last_position_top10: {ids: number[]; logits: number[]}
}

export function tinychatReference(): {max_new_tokens: number; prompts: TinychatPrompt[]} {
  return JSON.parse(readFileSync(`${TINYCHAT_DIR}/reference.json`, 'utf8'))
}
