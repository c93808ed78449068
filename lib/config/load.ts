/**
 * Reads the configuration: the env file (dotenv) and the process environment, which overrides it.
 * Every problem is reported at once, before anything touches a cluster.
 */
import fs from 'node:fs'
import path from 'node:path'
import { parse as parseDotenv } from 'dotenv'
import { ConfigError } from '../base/errors.ts'
import { type Config, SETTINGS } from './config.ts'
import { didYouMean } from './rules.ts'
import { validate } from './validate.ts'

export type LoadOptions = {
  /** Path given with --env-file; when absent `.env` in the working directory is read if it exists. */
  envFile?: string
  /** Environment that overrides the file (process.env in the scripts, a plain object in tests). */
  env?: NodeJS.ProcessEnv
  cwd?: string
}

/** Reads the env file and the environment, validates, and returns the config or throws ConfigError. */
export function loadConfig(options: LoadOptions = {}): Config {
  const cwd = options.cwd ?? process.cwd()
  const env = options.env ?? process.env
  const problems: string[] = []
  let fileValues: Record<string, string> = {}
  if (options.envFile !== undefined) {
    const file = path.resolve(cwd, options.envFile)
    if (!fs.existsSync(file)) {
      throw new ConfigError([`--env-file ${options.envFile}: no such file (copy env.example to it and fill it in)`])
    }
    fileValues = parseDotenv(fs.readFileSync(file))
  } else if (fs.existsSync(path.join(cwd, '.env'))) {
    fileValues = parseDotenv(fs.readFileSync(path.join(cwd, '.env')))
  }
  for (const name of Object.keys(fileValues)) {
    if (!(name in SETTINGS)) problems.push(unknownVariable(name))
  }
  const raw: Record<string, string | undefined> = {}
  for (const name of Object.keys(SETTINGS)) {
    const fromEnv = env[name]
    raw[name] = fromEnv !== undefined && fromEnv !== '' ? fromEnv : fileValues[name]
  }
  const config = validate(raw, problems, cwd)
  if (problems.length > 0) throw new ConfigError(problems)
  return config as Config
}

function unknownVariable(name: string): string {
  const hint = didYouMean(name, Object.keys(SETTINGS))
  return hint
    ? `${name}: unknown variable${hint}`
    : `${name}: unknown variable (homelab-ingress reads only the variables in env.example)`
}
